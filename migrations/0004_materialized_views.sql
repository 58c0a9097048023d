-- 0004_materialized_views: user_stats_optimized and collection_completion_optimized, created
-- populated, each with the unique index that REFRESH MATERIALIZED VIEW CONCURRENTLY needs.
--
-- One transaction: the views are new, so building their indexes without CONCURRENTLY blocks
-- nobody (no other session can see them before commit). Population reads the base tables
-- under ACCESS SHARE locks only. 0005 keeps them fresh (stale marks + scheduled refresh).
--
-- Definitions shared by both views, by get_collection_with_ownership() and get_user_stats():
--   * a user OWNS a checklist card cc when a cards row has user_id = the user,
--     checklist_card_id = cc.id and collection_id = cc.collection_id;
--   * checklist_cards of a collection = every checklist card of it (bases and variants);
--   * completion_pct = round(100 * owned distinct checklist cards / checklist cards, 2),
--     0.00 for a collection whose checklist is empty;
--   * a collection is complete for a user when its checklist is not empty and the user owns
--     all of its checklist cards.

-- One row per (user, collection) in which the user has at least one card row.
CREATE MATERIALIZED VIEW public.collection_completion_optimized AS
WITH checklist_sizes AS (
    SELECT cc.collection_id, count(*) AS checklist_cards
      FROM public.checklist_cards cc
     GROUP BY cc.collection_id
), owned AS (
    SELECT c.user_id,
           c.collection_id,
           sum(c.quantity)::bigint AS owned_cards,
           count(DISTINCT cc.id) AS owned_checklist_cards
      FROM public.cards c
      LEFT JOIN public.checklist_cards cc
             ON cc.id = c.checklist_card_id AND cc.collection_id = c.collection_id
     GROUP BY c.user_id, c.collection_id
)
SELECT o.user_id,
       o.collection_id,
       o.owned_cards,
       o.owned_checklist_cards,
       coalesce(s.checklist_cards, 0) AS checklist_cards,
       round(CASE WHEN coalesce(s.checklist_cards, 0) = 0 THEN 0
                  ELSE 100.0 * o.owned_checklist_cards / s.checklist_cards END, 2) AS completion_pct,
       coalesce(s.checklist_cards > 0 AND o.owned_checklist_cards = s.checklist_cards, false) AS is_complete
  FROM owned o
  LEFT JOIN checklist_sizes s ON s.collection_id = o.collection_id
WITH DATA;

-- serves: REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index) and one user's completion of one collection
CREATE UNIQUE INDEX collection_completion_optimized_user_collection_key
    ON public.collection_completion_optimized (user_id, collection_id);

-- One row per user (every user, zeros included).
CREATE MATERIALIZED VIEW public.user_stats_optimized AS
WITH card_totals AS (
    SELECT c.user_id,
           sum(c.quantity)::bigint AS total_cards,
           count(DISTINCT c.checklist_card_id) AS distinct_checklist_cards,
           count(DISTINCT c.collection_id) AS collections_started
      FROM public.cards c
     GROUP BY c.user_id
), checklist_sizes AS (
    SELECT cc.collection_id, count(*) AS checklist_cards
      FROM public.checklist_cards cc
     GROUP BY cc.collection_id
), owned AS (
    SELECT c.user_id, c.collection_id, count(DISTINCT cc.id) AS owned_checklist_cards
      FROM public.cards c
      JOIN public.checklist_cards cc
        ON cc.id = c.checklist_card_id AND cc.collection_id = c.collection_id
     GROUP BY c.user_id, c.collection_id
), completed AS (
    SELECT o.user_id, count(*) AS collections_completed
      FROM owned o
      JOIN checklist_sizes s ON s.collection_id = o.collection_id
     WHERE o.owned_checklist_cards = s.checklist_cards
     GROUP BY o.user_id
), post_counts AS (
    SELECT p.user_id, count(*) AS posts_count
      FROM public.posts p
     GROUP BY p.user_id
), follower_counts AS (
    SELECT f.followed_id AS user_id, count(*) AS followers_count
      FROM public.follows f
     GROUP BY f.followed_id
), following_counts AS (
    SELECT f.follower_id AS user_id, count(*) AS following_count
      FROM public.follows f
     GROUP BY f.follower_id
)
SELECT u.id AS user_id,
       coalesce(ct.total_cards, 0) AS total_cards,
       coalesce(ct.distinct_checklist_cards, 0) AS distinct_checklist_cards,
       coalesce(ct.collections_started, 0) AS collections_started,
       coalesce(cp.collections_completed, 0) AS collections_completed,
       coalesce(pc.posts_count, 0) AS posts_count,
       coalesce(fr.followers_count, 0) AS followers_count,
       coalesce(fg.following_count, 0) AS following_count
  FROM public.users u
  LEFT JOIN card_totals ct ON ct.user_id = u.id
  LEFT JOIN completed cp ON cp.user_id = u.id
  LEFT JOIN post_counts pc ON pc.user_id = u.id
  LEFT JOIN follower_counts fr ON fr.user_id = u.id
  LEFT JOIN following_counts fg ON fg.user_id = u.id
WITH DATA;

-- serves: REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index) and get_user_stats(user_id)
CREATE UNIQUE INDEX user_stats_optimized_user_id_key
    ON public.user_stats_optimized (user_id);

-- Privileges: a new view is readable by exactly the roles that can read every table it is
-- computed from (the application role reads it through get_user_stats(), the views are the
-- guide's objects, not a widening of anyone's access). Grantees are those of the source
-- tables' ACLs (a group role keeps serving its members) and PUBLIC; each grant is named in a
-- NOTICE. The same statement gives the same catalog under psql -f and boosterz-db migrate.
DO $$
DECLARE
    v_view regclass;
    v_grantee text;
BEGIN
    FOREACH v_view IN ARRAY ARRAY['public.collection_completion_optimized', 'public.user_stats_optimized']::regclass[] LOOP
        FOR v_grantee IN
            WITH sources AS (
                SELECT DISTINCT d.refobjid AS rel
                  FROM pg_catalog.pg_rewrite r
                  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
                 WHERE r.ev_class = v_view AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> v_view
            ), candidates AS (
                SELECT DISTINCT a.grantee
                  FROM sources s
                  JOIN pg_catalog.pg_class c ON c.oid = s.rel
                 CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
                 WHERE a.privilege_type = 'SELECT' AND a.grantee <> c.relowner
            )
            SELECT CASE WHEN k.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END
              FROM candidates k
              LEFT JOIN pg_catalog.pg_roles r ON r.oid = k.grantee
             WHERE (k.grantee = 0 OR NOT r.rolsuper)
               AND NOT EXISTS (SELECT 1 FROM sources s
                                WHERE NOT pg_catalog.has_table_privilege(CASE WHEN k.grantee = 0 THEN 'public' ELSE r.rolname END, s.rel, 'SELECT'))
             ORDER BY 1
        LOOP
            EXECUTE pg_catalog.format('GRANT SELECT ON %s TO %s', v_view, v_grantee);
            RAISE NOTICE 'granted SELECT on % to % (it can read every table the view is computed from)', v_view, v_grantee;
        END LOOP;
    END LOOP;
END
$$;

-- 0008_row_freshness: freshness per row instead of per view. 0005 marked a whole view stale
-- on any write, so get_user_stats() computed live for every user as soon as anyone wrote.
-- Here a write marks only the rows it can change, and readers use the view for every row
-- without a pending mark. 0004-0006 are released and stay as they are; this file replaces
-- their mechanism (the rollback puts it back exactly).
--
-- A mark is a row of materialized_view_stale_marks, which gains user_id and collection_id:
--   user_stats_optimized             (user, NULL)  that user's row
--                                    (NULL, coll)  every user with cards in that collection
--   collection_completion_optimized  (user, coll)  that (user, collection) row
--                                    (NULL, coll)  every row of that collection
--   either view                      (NULL, NULL)  every row (TRUNCATE, and the marks of 0005)
-- Writers only INSERT marks: no row is shared or locked, so no writer waits on another. A
-- refresh (refresh_materialized_views() of 0005, unchanged, or refresh-views) deletes the
-- marks committed before its DELETE and then refreshes with a newer snapshot (READ
-- COMMITTED): every mark it clears is in the refresh; a mark committed during the refresh
-- stays. NOTIFY boosterz_views_stale is sent by the first writing transaction that finds no
-- live mark of the view (a mark a refresh is deleting does not count), so once per
-- fresh-to-stale transition; the daemon re-checks after its refresh for writers that were
-- still running (see README, daemon).

ALTER TABLE public.materialized_view_stale_marks
    ADD COLUMN user_id bigint,
    ADD COLUMN collection_id bigint;

-- boosterz-lint: allow index-not-concurrent
-- The marks table holds only pending marks and the ALTER TABLE above already holds its
-- ACCESS EXCLUSIVE lock in this transaction: a plain build blocks nobody longer.
-- serves: "is this user's / this (user, collection)'s row stale?" (get_user_stats, get_collection_completion)
CREATE INDEX materialized_view_stale_marks_row_idx
    ON public.materialized_view_stale_marks (view_name, user_id, collection_id);

-- Row-level AFTER trigger (statement-level for TRUNCATE, TG_ARGV = the views the table feeds).
CREATE FUNCTION public.mark_materialized_view_rows_stale() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_views text[];
    v_users bigint[];
    v_collections bigint[];
    v_key text;
    v_view text;
BEGIN
    -- the rows a row of this table feeds, before (OLD) and after (NEW) the change; plpgsql
    -- IFs, not CASE expressions: a field is only looked up on the table that has it
    IF TG_LEVEL = 'STATEMENT' THEN
        v_views := TG_ARGV;
        v_users := array_fill(NULL::bigint, ARRAY[cardinality(TG_ARGV)]);
        v_collections := v_users;
    ELSIF TG_TABLE_NAME = 'cards' THEN
        v_views := '{}';
        v_users := '{}';
        v_collections := '{}';
        IF TG_OP <> 'INSERT' THEN
            v_views := ARRAY['user_stats_optimized', 'collection_completion_optimized'];
            v_users := ARRAY[OLD.user_id, OLD.user_id];
            v_collections := ARRAY[NULL, OLD.collection_id];
        END IF;
        IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.user_id, NEW.collection_id) IS DISTINCT FROM (OLD.user_id, OLD.collection_id)) THEN
            v_views := v_views || ARRAY['user_stats_optimized', 'collection_completion_optimized'];
            v_users := v_users || ARRAY[NEW.user_id, NEW.user_id];
            v_collections := v_collections || ARRAY[NULL, NEW.collection_id];
        END IF;
    ELSIF TG_TABLE_NAME = 'checklist_cards' THEN
        v_collections := '{}';
        IF TG_OP <> 'INSERT' THEN
            v_collections := ARRAY[OLD.collection_id, OLD.collection_id];
        END IF;
        IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.collection_id IS DISTINCT FROM OLD.collection_id) THEN
            v_collections := v_collections || ARRAY[NEW.collection_id, NEW.collection_id];
        END IF;
        v_views := array_fill(NULL::text, ARRAY[cardinality(v_collections)]);
        FOR i IN 1 .. cardinality(v_collections) LOOP
            v_views[i] := CASE WHEN i % 2 = 1 THEN 'user_stats_optimized' ELSE 'collection_completion_optimized' END;
        END LOOP;
        v_users := array_fill(NULL::bigint, ARRAY[cardinality(v_collections)]);
    ELSE
        v_users := '{}';
        IF TG_TABLE_NAME = 'users' THEN
            IF TG_OP <> 'INSERT' THEN
                v_users := ARRAY[OLD.id];
            END IF;
            IF TG_OP <> 'DELETE' THEN
                v_users := v_users || NEW.id;
            END IF;
        ELSIF TG_TABLE_NAME = 'posts' THEN
            IF TG_OP <> 'INSERT' THEN
                v_users := ARRAY[OLD.user_id];
            END IF;
            IF TG_OP <> 'DELETE' THEN
                v_users := v_users || NEW.user_id;
            END IF;
        ELSE
            IF TG_OP <> 'INSERT' THEN
                v_users := ARRAY[OLD.follower_id, OLD.followed_id];
            END IF;
            IF TG_OP <> 'DELETE' THEN
                v_users := v_users || ARRAY[NEW.follower_id, NEW.followed_id];
            END IF;
        END IF;
        v_views := array_fill('user_stats_optimized'::text, ARRAY[cardinality(v_users)]);
        v_collections := array_fill(NULL::bigint, ARRAY[cardinality(v_users)]);
    END IF;

    -- the same rows as the previous mark of this transaction (reset by commit / rollback,
    -- also of a savepoint, with the marks): nothing new to mark
    v_key := TG_TABLE_NAME || ':' || v_users::text || ':' || v_collections::text;
    IF v_key = current_setting('boosterz_stale.last', true) THEN
        RETURN NULL;
    END IF;

    -- once per transaction and view: NOTIFY when no live mark is pending (a mark whose xmax
    -- is set is being or has been deleted by a refresh: it does not count, also under
    -- REPEATABLE READ where a committed refresh may be newer than our snapshot)
    FOREACH v_view IN ARRAY v_views LOOP
        CONTINUE WHEN current_setting('boosterz_stale.' || v_view, true) = 'marked';
        IF NOT EXISTS (SELECT 1 FROM public.materialized_view_stale_marks m
                        WHERE m.view_name = v_view AND m.xmax = '0'::xid) THEN
            PERFORM pg_notify('boosterz_views_stale', v_view);
        END IF;
        PERFORM set_config('boosterz_stale.' || v_view, 'marked', true);
    END LOOP;

    INSERT INTO public.materialized_view_stale_marks (view_name, user_id, collection_id)
    SELECT * FROM unnest(v_views, v_users, v_collections);
    PERFORM set_config('boosterz_stale.last', v_key, true);
    RETURN NULL;
END;
$$;

-- Same precautions as 0005: the application's writes fire it with the owner's rights and need
-- no privilege on the marks; nobody calls it directly.
REVOKE ALL ON FUNCTION public.mark_materialized_view_rows_stale() FROM PUBLIC;

-- The statement triggers of 0005 give way to row triggers. Updates fire only when a column
-- the views read changes (WHEN is evaluated without calling the function).
DROP TRIGGER users_mark_views_stale ON public.users;
DROP TRIGGER checklist_cards_mark_views_stale ON public.checklist_cards;
DROP TRIGGER cards_mark_views_stale ON public.cards;
DROP TRIGGER posts_mark_views_stale ON public.posts;
DROP TRIGGER follows_mark_views_stale ON public.follows;
DROP FUNCTION public.mark_materialized_views_stale();

CREATE TRIGGER users_mark_view_rows_stale
    AFTER INSERT OR DELETE ON public.users
    FOR EACH ROW EXECUTE FUNCTION public.mark_materialized_view_rows_stale();
CREATE TRIGGER users_update_mark_view_rows_stale
    AFTER UPDATE OF id ON public.users
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION public.mark_materialized_view_rows_stale();
CREATE TRIGGER users_truncate_mark_views_stale
    AFTER TRUNCATE ON public.users
    FOR EACH STATEMENT EXECUTE FUNCTION public.mark_materialized_view_rows_stale('user_stats_optimized');

CREATE TRIGGER checklist_cards_mark_view_rows_stale
    AFTER INSERT OR DELETE ON public.checklist_cards
    FOR EACH ROW EXECUTE FUNCTION public.mark_materialized_view_rows_stale();
CREATE TRIGGER checklist_cards_update_mark_view_rows_stale
    AFTER UPDATE OF id, collection_id ON public.checklist_cards
    FOR EACH ROW WHEN ((OLD.id, OLD.collection_id) IS DISTINCT FROM (NEW.id, NEW.collection_id))
    EXECUTE FUNCTION public.mark_materialized_view_rows_stale();
CREATE TRIGGER checklist_cards_truncate_mark_views_stale
    AFTER TRUNCATE ON public.checklist_cards
    FOR EACH STATEMENT EXECUTE FUNCTION public.mark_materialized_view_rows_stale('collection_completion_optimized', 'user_stats_optimized');

CREATE TRIGGER cards_mark_view_rows_stale
    AFTER INSERT OR DELETE ON public.cards
    FOR EACH ROW EXECUTE FUNCTION public.mark_materialized_view_rows_stale();
CREATE TRIGGER cards_update_mark_view_rows_stale
    AFTER UPDATE OF user_id, collection_id, checklist_card_id, quantity ON public.cards
    FOR EACH ROW WHEN ((OLD.user_id, OLD.collection_id, OLD.checklist_card_id, OLD.quantity)
                       IS DISTINCT FROM (NEW.user_id, NEW.collection_id, NEW.checklist_card_id, NEW.quantity))
    EXECUTE FUNCTION public.mark_materialized_view_rows_stale();
CREATE TRIGGER cards_truncate_mark_views_stale
    AFTER TRUNCATE ON public.cards
    FOR EACH STATEMENT EXECUTE FUNCTION public.mark_materialized_view_rows_stale('collection_completion_optimized', 'user_stats_optimized');

CREATE TRIGGER posts_mark_view_rows_stale
    AFTER INSERT OR DELETE ON public.posts
    FOR EACH ROW EXECUTE FUNCTION public.mark_materialized_view_rows_stale();
CREATE TRIGGER posts_update_mark_view_rows_stale
    AFTER UPDATE OF user_id ON public.posts
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION public.mark_materialized_view_rows_stale();
CREATE TRIGGER posts_truncate_mark_views_stale
    AFTER TRUNCATE ON public.posts
    FOR EACH STATEMENT EXECUTE FUNCTION public.mark_materialized_view_rows_stale('user_stats_optimized');

CREATE TRIGGER follows_mark_view_rows_stale
    AFTER INSERT OR DELETE ON public.follows
    FOR EACH ROW EXECUTE FUNCTION public.mark_materialized_view_rows_stale();
CREATE TRIGGER follows_update_mark_view_rows_stale
    AFTER UPDATE OF follower_id, followed_id ON public.follows
    FOR EACH ROW WHEN ((OLD.follower_id, OLD.followed_id) IS DISTINCT FROM (NEW.follower_id, NEW.followed_id))
    EXECUTE FUNCTION public.mark_materialized_view_rows_stale();
CREATE TRIGGER follows_truncate_mark_views_stale
    AFTER TRUNCATE ON public.follows
    FOR EACH STATEMENT EXECUTE FUNCTION public.mark_materialized_view_rows_stale('user_stats_optimized');

-- User stats: the view's row when it has no pending mark (the user's own, one of a collection
-- the user has cards in, or one of the whole view), else computed live. STABLE: the marks,
-- the view and the tables are read in one snapshot, so the answer equals the plain query's.
CREATE OR REPLACE FUNCTION public.get_user_stats(p_user_id bigint)
RETURNS TABLE (
    user_id bigint,
    total_cards bigint,
    distinct_checklist_cards bigint,
    collections_started bigint,
    collections_completed bigint,
    posts_count bigint,
    followers_count bigint,
    following_count bigint
)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, public, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF (SELECT c.relispopulated FROM pg_class c WHERE c.oid = 'public.user_stats_optimized'::regclass)
       AND NOT EXISTS (SELECT 1 FROM public.materialized_view_stale_marks m
                        WHERE m.view_name = 'user_stats_optimized' AND m.user_id = p_user_id)
       AND NOT EXISTS (SELECT 1 FROM public.materialized_view_stale_marks m
                        WHERE m.view_name = 'user_stats_optimized' AND m.user_id IS NULL
                          AND (m.collection_id IS NULL
                               OR EXISTS (SELECT 1 FROM public.cards c
                                           WHERE c.user_id = p_user_id AND c.collection_id = m.collection_id))) THEN
        RETURN QUERY
            SELECT s.user_id, s.total_cards, s.distinct_checklist_cards, s.collections_started,
                   s.collections_completed, s.posts_count, s.followers_count, s.following_count
              FROM public.user_stats_optimized s
             WHERE s.user_id = p_user_id;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    RETURN QUERY
        SELECT u.id,
               coalesce((SELECT sum(c.quantity) FROM public.cards c WHERE c.user_id = u.id), 0)::bigint,
               (SELECT count(DISTINCT c.checklist_card_id) FROM public.cards c WHERE c.user_id = u.id),
               (SELECT count(DISTINCT c.collection_id) FROM public.cards c WHERE c.user_id = u.id),
               (SELECT count(*)
                  FROM (SELECT c.collection_id, count(DISTINCT cc.id) AS owned_checklist_cards
                          FROM public.cards c
                          JOIN public.checklist_cards cc
                            ON cc.id = c.checklist_card_id AND cc.collection_id = c.collection_id
                         WHERE c.user_id = u.id
                         GROUP BY c.collection_id) o
                 WHERE o.owned_checklist_cards = (SELECT count(*) FROM public.checklist_cards x
                                                   WHERE x.collection_id = o.collection_id)),
               (SELECT count(*) FROM public.posts p WHERE p.user_id = u.id),
               (SELECT count(*) FROM public.follows f WHERE f.followed_id = u.id),
               (SELECT count(*) FROM public.follows f WHERE f.follower_id = u.id)
          FROM public.users u
         WHERE u.id = p_user_id;
END;
$$;

-- A user's rows of collection_completion_optimized (one per collection the user has cards in),
-- ORDER BY collection_id: the view's row for each (user, collection) without a pending mark,
-- the others computed live with the view's definition (0004). Equal to that definition
-- filtered on the user, at the caller's snapshot.
CREATE FUNCTION public.get_collection_completion(p_user_id bigint)
RETURNS TABLE (
    user_id bigint,
    collection_id bigint,
    owned_cards bigint,
    owned_checklist_cards bigint,
    checklist_cards bigint,
    completion_pct numeric,
    is_complete boolean
)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_all boolean;
    v_stale bigint[];
BEGIN
    v_all := NOT (SELECT c.relispopulated FROM pg_class c WHERE c.oid = 'public.collection_completion_optimized'::regclass)
             OR EXISTS (SELECT 1 FROM public.materialized_view_stale_marks m
                         WHERE m.view_name = 'collection_completion_optimized' AND m.user_id IS NULL AND m.collection_id IS NULL);
    v_stale := ARRAY(SELECT m.collection_id FROM public.materialized_view_stale_marks m
                      WHERE m.view_name = 'collection_completion_optimized' AND m.user_id = p_user_id
                     UNION
                     SELECT m.collection_id FROM public.materialized_view_stale_marks m
                      WHERE m.view_name = 'collection_completion_optimized' AND m.user_id IS NULL AND m.collection_id IS NOT NULL);
    IF v_all THEN
        v_stale := NULL;
    END IF;
    -- fresh rows from the view, stale ones live; the view is not scanned at all when every
    -- row is stale (an unpopulated view cannot be scanned)
    RETURN QUERY EXECUTE
        'WITH live AS (
            SELECT c.user_id,
                   c.collection_id,
                   sum(c.quantity)::bigint AS owned_cards,
                   count(DISTINCT cc.id) AS owned_checklist_cards
              FROM public.cards c
              LEFT JOIN public.checklist_cards cc
                     ON cc.id = c.checklist_card_id AND cc.collection_id = c.collection_id
             WHERE c.user_id = $1
               AND ($2 IS NULL OR c.collection_id = ANY ($2))
             GROUP BY c.user_id, c.collection_id
        )
        SELECT o.user_id,
               o.collection_id,
               o.owned_cards,
               o.owned_checklist_cards,
               s.checklist_cards,
               round(CASE WHEN s.checklist_cards = 0 THEN 0
                          ELSE 100.0 * o.owned_checklist_cards / s.checklist_cards END, 2),
               s.checklist_cards > 0 AND o.owned_checklist_cards = s.checklist_cards
          FROM live o
         CROSS JOIN LATERAL (SELECT count(*) AS checklist_cards FROM public.checklist_cards x
                              WHERE x.collection_id = o.collection_id) s'
        || CASE WHEN v_all THEN '' ELSE '
        UNION ALL
        SELECT v.user_id, v.collection_id, v.owned_cards, v.owned_checklist_cards, v.checklist_cards,
               v.completion_pct, v.is_complete
          FROM public.collection_completion_optimized v
         WHERE v.user_id = $1
           AND NOT (v.collection_id = ANY ($2))' END
        || '
         ORDER BY 2'
        USING p_user_id, v_stale;
END;
$$;

-- get_collection_completion() is SECURITY INVOKER and executable by PUBLIC, as 0006's
-- functions; where a DBA revoked that default, EXECUTE goes to each role that holds what its
-- body reads (as in 0006).
DO $$
DECLARE
    v_fn constant regprocedure := 'public.get_collection_completion(bigint)';
    v_needs constant text[] := ARRAY['public.collection_completion_optimized:SELECT', 'public.materialized_view_stale_marks:SELECT',
                                     'public.cards:SELECT', 'public.checklist_cards:SELECT'];
    v_grantee text;
BEGIN
    IF NOT pg_catalog.has_function_privilege('public', v_fn, 'EXECUTE') THEN
        FOR v_grantee IN
            WITH needs AS (
                SELECT split_part(n, ':', 1)::regclass AS rel, split_part(n, ':', 2) AS priv FROM unnest(v_needs) AS n
            ), candidates AS (
                SELECT DISTINCT a.grantee
                  FROM needs x
                  JOIN pg_catalog.pg_class c ON c.oid = x.rel
                 CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
                 WHERE a.grantee <> c.relowner AND a.grantee <> 0
            )
            SELECT pg_catalog.quote_ident(r.rolname)
              FROM candidates k
              JOIN pg_catalog.pg_roles r ON r.oid = k.grantee
             WHERE NOT r.rolsuper
               AND NOT EXISTS (SELECT 1 FROM needs x WHERE NOT pg_catalog.has_table_privilege(r.rolname, x.rel, x.priv))
             ORDER BY 1
        LOOP
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', v_fn, v_grantee);
            RAISE NOTICE 'granted EXECUTE on % to % (PUBLIC has no EXECUTE here; it holds what the function uses)', v_fn, v_grantee;
        END LOOP;
    END IF;
END
$$;

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

-- Every lock this transaction needs, first, in the order the application's writers take them
-- (a card insert locks cards, then users / collections / checklist_cards for its key checks,
-- then the marks in its trigger): a writer can wait for this migration, never deadlock with it.
-- ACCESS EXCLUSIVE is what DROP TRIGGER takes anyway; the transaction lasts milliseconds.
-- In a DO block so that `psql -f` (each statement its own transaction) runs the file too: there the
-- lock ends with the block; under migrate (one transaction) it lasts until COMMIT.
DO $$
BEGIN
  LOCK TABLE public.cards, public.posts, public.follows, public.checklist_cards, public.users,
             public.materialized_view_stale_marks IN ACCESS EXCLUSIVE MODE;
END
$$;

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
-- A row that already has a live mark (the writer's own earlier one, or one another committed
-- writer left) needs no new mark: the common case is one index probe per key and no write.
-- That is safe because a refresh waits, after deleting the marks, for the transactions that
-- were still running (refresh_materialized_views() below): a writer that relied on a mark the
-- refresh deleted is then in the refresh. A mark whose xmax is set is being or has been
-- deleted by a refresh and does not count (also under REPEATABLE READ, where a committed
-- refresh may be newer than the writer's snapshot).
CREATE FUNCTION public.mark_materialized_view_rows_stale() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_users bigint[] := '{}';       -- user_stats_optimized rows (user) to mark
    v_pairs bigint[] := '{}';       -- collection_completion_optimized rows (user, collection), flattened
    v_collections bigint[] := '{}'; -- collections (every row of them in both views)
    v_views text[] := '{}';
    v_u bigint[] := '{}';
    v_c bigint[] := '{}';
    v_view text;
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        v_views := TG_ARGV;
        v_u := array_fill(NULL::bigint, ARRAY[cardinality(TG_ARGV)]);
        v_c := v_u;
    ELSE
        -- the common case first, in one statement: a card or a post whose rows are all marked
        -- already (one index probe per row, nothing written)
        IF TG_TABLE_NAME = 'cards' THEN
            IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (NEW.user_id, NEW.collection_id) IS NOT DISTINCT FROM (OLD.user_id, OLD.collection_id)) THEN
                v_users := ARRAY[OLD.user_id, OLD.collection_id];
            ELSIF TG_OP = 'INSERT' THEN
                v_users := ARRAY[NEW.user_id, NEW.collection_id];
            END IF;
            IF cardinality(v_users) = 2
               AND EXISTS (SELECT 1 FROM public.materialized_view_stale_marks m
                            WHERE m.view_name = 'collection_completion_optimized' AND m.user_id = v_users[1]
                              AND m.collection_id = v_users[2] AND m.xmax = '0'::xid)
               AND EXISTS (SELECT 1 FROM public.materialized_view_stale_marks m
                            WHERE m.view_name = 'user_stats_optimized' AND m.user_id = v_users[1]
                              AND m.collection_id IS NULL AND m.xmax = '0'::xid) THEN
                RETURN NULL;
            END IF;
            v_users := '{}';
        ELSIF TG_TABLE_NAME = 'posts' AND TG_OP <> 'UPDATE' THEN
            IF EXISTS (SELECT 1 FROM public.materialized_view_stale_marks m
                        WHERE m.view_name = 'user_stats_optimized'
                          AND m.user_id = CASE WHEN TG_OP = 'INSERT' THEN NEW.user_id ELSE OLD.user_id END
                          AND m.collection_id IS NULL AND m.xmax = '0'::xid) THEN
                RETURN NULL;
            END IF;
        END IF;
        -- the rows this row feeds, before (OLD) and after (NEW) the change; plpgsql IFs: a
        -- field is only looked up on the table that has it
        IF TG_TABLE_NAME = 'cards' THEN
            IF TG_OP <> 'INSERT' THEN
                v_users := ARRAY[OLD.user_id];
                v_pairs := ARRAY[OLD.user_id, OLD.collection_id];
            END IF;
            IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.user_id, NEW.collection_id) IS DISTINCT FROM (OLD.user_id, OLD.collection_id)) THEN
                v_users := v_users || NEW.user_id;
                v_pairs := v_pairs || ARRAY[NEW.user_id, NEW.collection_id];
            END IF;
        ELSIF TG_TABLE_NAME = 'checklist_cards' THEN
            IF TG_OP <> 'INSERT' THEN
                v_collections := ARRAY[OLD.collection_id];
            END IF;
            IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.collection_id IS DISTINCT FROM OLD.collection_id) THEN
                v_collections := v_collections || NEW.collection_id;
            END IF;
        ELSIF TG_TABLE_NAME = 'users' THEN
            v_users := CASE WHEN TG_OP = 'INSERT' THEN ARRAY[NEW.id] ELSE ARRAY[OLD.id] END;
            IF TG_OP = 'UPDATE' THEN
                v_users := v_users || NEW.id;
            END IF;
        ELSIF TG_TABLE_NAME = 'posts' THEN
            v_users := CASE WHEN TG_OP = 'INSERT' THEN ARRAY[NEW.user_id] ELSE ARRAY[OLD.user_id] END;
            IF TG_OP = 'UPDATE' THEN
                v_users := v_users || NEW.user_id;
            END IF;
        ELSE -- follows
            IF TG_OP <> 'INSERT' THEN
                v_users := ARRAY[OLD.follower_id, OLD.followed_id];
            END IF;
            IF TG_OP <> 'DELETE' THEN
                v_users := v_users || ARRAY[NEW.follower_id, NEW.followed_id];
            END IF;
        END IF;
        -- keep only the rows without a live mark: one index probe each
        FOR i IN 1 .. cardinality(v_users) LOOP
            IF NOT EXISTS (SELECT 1 FROM public.materialized_view_stale_marks m
                            WHERE m.view_name = 'user_stats_optimized' AND m.user_id = v_users[i]
                              AND m.collection_id IS NULL AND m.xmax = '0'::xid) THEN
                v_views := v_views || 'user_stats_optimized'::text;
                v_u := v_u || v_users[i];
                v_c := v_c || NULL::bigint;
            END IF;
        END LOOP;
        FOR i IN 1 .. cardinality(v_pairs) / 2 LOOP
            IF NOT EXISTS (SELECT 1 FROM public.materialized_view_stale_marks m
                            WHERE m.view_name = 'collection_completion_optimized' AND m.user_id = v_pairs[2 * i - 1]
                              AND m.collection_id = v_pairs[2 * i] AND m.xmax = '0'::xid) THEN
                v_views := v_views || 'collection_completion_optimized'::text;
                v_u := v_u || v_pairs[2 * i - 1];
                v_c := v_c || v_pairs[2 * i];
            END IF;
        END LOOP;
        FOR i IN 1 .. cardinality(v_collections) LOOP
            FOREACH v_view IN ARRAY ARRAY['user_stats_optimized', 'collection_completion_optimized'] LOOP
                IF NOT EXISTS (SELECT 1 FROM public.materialized_view_stale_marks m
                                WHERE m.view_name = v_view AND m.user_id IS NULL
                                  AND m.collection_id = v_collections[i] AND m.xmax = '0'::xid) THEN
                    v_views := v_views || v_view;
                    v_u := v_u || NULL::bigint;
                    v_c := v_c || v_collections[i];
                END IF;
            END LOOP;
        END LOOP;
        IF cardinality(v_views) = 0 THEN
            RETURN NULL;
        END IF;
    END IF;

    -- NOTIFY when the view had no live mark before this one: once per fresh-to-stale transition
    FOREACH v_view IN ARRAY ARRAY(SELECT DISTINCT v FROM unnest(v_views) v) LOOP
        IF NOT EXISTS (SELECT 1 FROM public.materialized_view_stale_marks m
                        WHERE m.view_name = v_view AND m.xmax = '0'::xid) THEN
            PERFORM pg_notify('boosterz_views_stale', v_view);
        END IF;
    END LOOP;
    INSERT INTO public.materialized_view_stale_marks (view_name, user_id, collection_id)
    SELECT * FROM unnest(v_views, v_u, v_c);
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

-- Waits until every writer running when it is called (a transaction of this database that
-- has fired a freshness trigger) has committed or rolled back, polling every 10 ms and taking
-- no lock, leaving out those that wait on a lock this session holds (another refresh queued
-- behind this one). Raises 55P03 once it has waited longer than
-- lock_timeout, when that is set: like a lock wait, a long writer delays the refresh, never
-- the other way round.
CREATE FUNCTION public.wait_for_running_transactions() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_xids xid[];
    v_started constant timestamptz := pg_catalog.clock_timestamp();
    v_limit constant interval := pg_catalog.current_setting('lock_timeout')::interval;
BEGIN
    -- the writers: transactions with an id that have read or written the marks (every
    -- freshness trigger does, and keeps that lock until it ends); a transaction holds the lock
    -- on its own id until it ends; prepared transactions have no backend
    v_xids := ARRAY(SELECT x.transactionid
                      FROM pg_catalog.pg_locks m
                      JOIN pg_catalog.pg_locks x
                        ON x.locktype = 'transactionid' AND x.mode = 'ExclusiveLock' AND x.granted
                       AND x.virtualtransaction = m.virtualtransaction
                     WHERE m.locktype = 'relation' AND m.granted
                       AND m.relation = 'public.materialized_view_stale_marks'::regclass
                       AND m.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
                       AND m.pid IS DISTINCT FROM pg_catalog.pg_backend_pid());
    LOOP
        v_xids := ARRAY(SELECT x FROM unnest(v_xids) AS x
                         WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                                        WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
                                          AND l.transactionid = x
                                          AND NOT coalesce(pg_catalog.pg_backend_pid() = ANY (pg_catalog.pg_blocking_pids(l.pid)), false)));
        EXIT WHEN cardinality(v_xids) = 0;
        IF v_limit > interval '0' AND pg_catalog.clock_timestamp() - v_started > v_limit THEN
            RAISE EXCEPTION 'waited % for % transaction(s) still running (e.g. xid %) before refreshing',
                  pg_catalog.clock_timestamp() - v_started, cardinality(v_xids), v_xids[1]
                  USING ERRCODE = '55P03', HINT = 'a long writer delays the refresh: retry later, or raise lock_timeout';
        END IF;
        PERFORM pg_catalog.pg_sleep(0.01);
    END LOOP;
END;
$$;

-- refresh_materialized_views() of 0005, one line more: after deleting a view's marks it waits
-- for the transactions still running (a writer among them may have relied on a deleted mark).
CREATE OR REPLACE FUNCTION public.refresh_materialized_views(
    p_all boolean DEFAULT false,
    p_concurrently boolean DEFAULT true,
    p_views text[] DEFAULT NULL
) RETURNS TABLE (view_name text, was_stale boolean, refreshed_concurrently boolean, duration_ms numeric)
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    c_views constant text[] := ARRAY['collection_completion_optimized', 'user_stats_optimized'];
    v_view text;
    v_started timestamptz;
    v_stale boolean;
    v_concurrently boolean;
    v_unknown text[];
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'refresh_materialized_views() must run at READ COMMITTED, not %', current_setting('transaction_isolation')
              USING ERRCODE = '25001',
                    HINT = 'each refresh needs a snapshot taken after its stale marks were cleared';
    END IF;
    v_unknown := ARRAY(SELECT u FROM unnest(p_views) AS u WHERE u IS NULL OR NOT (u = ANY (c_views)));
    IF cardinality(v_unknown) > 0 THEN
        RAISE EXCEPTION 'refresh_materialized_views(): unknown view(s) %; known: %', v_unknown, c_views
              USING ERRCODE = '22023';
    END IF;
    FOREACH v_view IN ARRAY c_views LOOP
        v_stale := EXISTS (SELECT 1 FROM materialized_view_stale_marks m WHERE m.view_name = v_view);
        CONTINUE WHEN NOT CASE WHEN p_views IS NOT NULL THEN v_view = ANY (p_views)
                               WHEN p_all THEN true
                               ELSE v_stale END;
        v_started := clock_timestamp();
        DELETE FROM materialized_view_stale_marks m WHERE m.view_name = v_view;
        v_stale := v_stale OR FOUND;
        -- a writer still running may have relied on a mark just deleted (0008 writes no mark
        -- for a row that has one): once it has ended, the refresh below includes its changes
        PERFORM public.wait_for_running_transactions();
        v_concurrently := coalesce(p_concurrently, true)
                          AND (SELECT c.relispopulated FROM pg_class c WHERE c.oid = format('%I', v_view)::regclass);
        IF v_concurrently THEN
            EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %I', v_view);
        ELSE
            EXECUTE format('REFRESH MATERIALIZED VIEW %I', v_view);
        END IF;
        view_name := v_view;
        was_stale := v_stale;
        refreshed_concurrently := v_concurrently;
        duration_ms := round((extract(epoch FROM clock_timestamp() - v_started) * 1000)::numeric, 1);
        RETURN NEXT;
    END LOOP;
END;
$$;

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

-- boosterz-lint: allow drop
-- Rollback of 0008_row_freshness: back to the per-view freshness of 0005/0006, exactly as
-- those files create it (function bodies copied verbatim). Marks left with a user or a
-- collection become whole-view marks when the columns go: the views stay stale until the
-- next refresh, never wrongly fresh.
DROP FUNCTION IF EXISTS public.get_collection_completion(bigint);
DROP TRIGGER IF EXISTS follows_truncate_mark_views_stale ON public.follows;
DROP TRIGGER IF EXISTS follows_update_mark_view_rows_stale ON public.follows;
DROP TRIGGER IF EXISTS follows_mark_view_rows_stale ON public.follows;
DROP TRIGGER IF EXISTS posts_truncate_mark_views_stale ON public.posts;
DROP TRIGGER IF EXISTS posts_update_mark_view_rows_stale ON public.posts;
DROP TRIGGER IF EXISTS posts_mark_view_rows_stale ON public.posts;
DROP TRIGGER IF EXISTS cards_truncate_mark_views_stale ON public.cards;
DROP TRIGGER IF EXISTS cards_update_mark_view_rows_stale ON public.cards;
DROP TRIGGER IF EXISTS cards_mark_view_rows_stale ON public.cards;
DROP TRIGGER IF EXISTS checklist_cards_truncate_mark_views_stale ON public.checklist_cards;
DROP TRIGGER IF EXISTS checklist_cards_update_mark_view_rows_stale ON public.checklist_cards;
DROP TRIGGER IF EXISTS checklist_cards_mark_view_rows_stale ON public.checklist_cards;
DROP TRIGGER IF EXISTS users_truncate_mark_views_stale ON public.users;
DROP TRIGGER IF EXISTS users_update_mark_view_rows_stale ON public.users;
DROP TRIGGER IF EXISTS users_mark_view_rows_stale ON public.users;
DROP FUNCTION IF EXISTS public.mark_materialized_view_rows_stale();

-- 0005's statement triggers and their function
CREATE FUNCTION public.mark_materialized_views_stale() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_view text;
    v_pending boolean;
BEGIN
    FOREACH v_view IN ARRAY TG_ARGV LOOP
        -- once per transaction and view (reset by commit / rollback, also of a savepoint)
        CONTINUE WHEN current_setting('boosterz_stale.' || v_view, true) = 'marked';
        IF current_setting('transaction_isolation') = 'read committed' THEN
            -- pin a pending mark so that a refresh cannot consume it before we commit
            PERFORM 1
               FROM materialized_view_stale_marks m
              WHERE m.view_name = v_view
              LIMIT 1
                FOR KEY SHARE SKIP LOCKED;
            v_pending := FOUND;
            IF NOT v_pending THEN
                INSERT INTO materialized_view_stale_marks (view_name) VALUES (v_view);
            END IF;
        ELSE
            -- REPEATABLE READ / SERIALIZABLE: locking a mark a refresh deleted after our
            -- snapshot would raise a serialization failure, so always add our own mark.
            v_pending := EXISTS (SELECT 1 FROM materialized_view_stale_marks m WHERE m.view_name = v_view);
            INSERT INTO materialized_view_stale_marks (view_name) VALUES (v_view);
        END IF;
        IF NOT v_pending THEN
            PERFORM pg_notify('boosterz_views_stale', v_view);
        END IF;
        PERFORM set_config('boosterz_stale.' || v_view, 'marked', true);
    END LOOP;
    RETURN NULL;
END;
$$;

-- Writers fire this function with its owner's rights (SECURITY DEFINER): the application role
-- keeps exactly the privileges it had (INSERT/UPDATE/DELETE on its tables) and needs none on
-- materialized_view_stale_marks. The usual precautions: search_path pinned above (pg_temp
-- last), nothing is executed from its arguments but view names checked by the table's CHECK,
-- and nobody may call it directly (a trigger function cannot be called outside a trigger
-- anyway; EXECUTE is only checked when a trigger is created).
REVOKE ALL ON FUNCTION public.mark_materialized_views_stale() FROM PUBLIC;

CREATE TRIGGER users_mark_views_stale
    AFTER INSERT OR DELETE OR UPDATE OF id OR TRUNCATE ON public.users
    FOR EACH STATEMENT
    EXECUTE FUNCTION public.mark_materialized_views_stale('user_stats_optimized');

CREATE TRIGGER checklist_cards_mark_views_stale
    AFTER INSERT OR DELETE OR UPDATE OF id, collection_id OR TRUNCATE ON public.checklist_cards
    FOR EACH STATEMENT
    EXECUTE FUNCTION public.mark_materialized_views_stale('collection_completion_optimized', 'user_stats_optimized');

CREATE TRIGGER cards_mark_views_stale
    AFTER INSERT OR DELETE OR UPDATE OF user_id, collection_id, checklist_card_id, quantity OR TRUNCATE ON public.cards
    FOR EACH STATEMENT
    EXECUTE FUNCTION public.mark_materialized_views_stale('collection_completion_optimized', 'user_stats_optimized');

CREATE TRIGGER posts_mark_views_stale
    AFTER INSERT OR DELETE OR UPDATE OF user_id OR TRUNCATE ON public.posts
    FOR EACH STATEMENT
    EXECUTE FUNCTION public.mark_materialized_views_stale('user_stats_optimized');

CREATE TRIGGER follows_mark_views_stale
    AFTER INSERT OR DELETE OR UPDATE OF follower_id, followed_id OR TRUNCATE ON public.follows
    FOR EACH STATEMENT
    EXECUTE FUNCTION public.mark_materialized_views_stale('user_stats_optimized');

-- 0005's refresh_materialized_views()
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
        -- waits for writers that pinned a mark: their changes are then in the refresh below
        DELETE FROM materialized_view_stale_marks m WHERE m.view_name = v_view;
        v_stale := v_stale OR FOUND;
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
DROP FUNCTION IF EXISTS public.wait_for_running_transactions();

-- 0006's get_user_stats()
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
    IF NOT EXISTS (SELECT 1 FROM materialized_view_stale_marks m WHERE m.view_name = 'user_stats_optimized')
       AND (SELECT c.relispopulated FROM pg_class c WHERE c.oid = 'user_stats_optimized'::regclass) THEN
        RETURN QUERY
            SELECT s.user_id, s.total_cards, s.distinct_checklist_cards, s.collections_started,
                   s.collections_completed, s.posts_count, s.followers_count, s.following_count
              FROM user_stats_optimized s
             WHERE s.user_id = p_user_id;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    RETURN QUERY
        SELECT u.id,
               coalesce((SELECT sum(c.quantity) FROM cards c WHERE c.user_id = u.id), 0)::bigint,
               (SELECT count(DISTINCT c.checklist_card_id) FROM cards c WHERE c.user_id = u.id),
               (SELECT count(DISTINCT c.collection_id) FROM cards c WHERE c.user_id = u.id),
               (SELECT count(*)
                  FROM (SELECT c.collection_id, count(DISTINCT cc.id) AS owned_checklist_cards
                          FROM cards c
                          JOIN checklist_cards cc
                            ON cc.id = c.checklist_card_id AND cc.collection_id = c.collection_id
                         WHERE c.user_id = u.id
                         GROUP BY c.collection_id) o
                 WHERE o.owned_checklist_cards = (SELECT count(*) FROM checklist_cards x
                                                   WHERE x.collection_id = o.collection_id)),
               (SELECT count(*) FROM posts p WHERE p.user_id = u.id),
               (SELECT count(*) FROM follows f WHERE f.followed_id = u.id),
               (SELECT count(*) FROM follows f WHERE f.follower_id = u.id)
          FROM users u
         WHERE u.id = p_user_id;
END;
$$;

DROP INDEX IF EXISTS public.materialized_view_stale_marks_row_idx;
ALTER TABLE public.materialized_view_stale_marks
    DROP COLUMN IF EXISTS user_id,
    DROP COLUMN IF EXISTS collection_id;

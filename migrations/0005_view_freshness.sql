-- 0005_view_freshness: keeps the materialized views of 0004 fresh without ever refreshing one
-- inside a writer's transaction.
--
--   * materialized_view_stale_marks: an append-only register of "view V is stale" marks.
--     No key on the view name alone: a mark is a new row, never an UPDATE of a shared row
--     and never an INSERT ... ON CONFLICT on a key every writer would share.
--   * mark_materialized_views_stale(): a STATEMENT-level AFTER trigger function on every
--     table the views read. Once per transaction and view it either pins the pending mark
--     (SELECT ... FOR KEY SHARE SKIP LOCKED: a shared lock, so concurrent writers never wait
--     on each other) or, when no mark is pending, inserts one and sends
--     NOTIFY boosterz_views_stale with the view name as payload. So NOTIFY (whose commit
--     serialises on a cluster-wide lock) happens once per fresh-to-stale transition, not
--     once per write.
--   * refresh_materialized_views(): deletes the marks of a view, then refreshes it, in one
--     transaction. The DELETE waits for the writers that pinned a mark to commit, so the
--     REFRESH that follows (new snapshot, READ COMMITTED) includes their changes; a writer
--     arriving after the DELETE finds no unlocked mark and inserts a new one. No change can
--     be committed without either being in the refresh or leaving a pending mark.
--
-- Privileges: writers need nothing new (the trigger function is SECURITY DEFINER); readers of
-- the views get SELECT on materialized_view_stale_marks (get_user_stats() reads it, below);
-- refresh_materialized_views() needs to own the views (or MAINTAIN on PostgreSQL 17+).

CREATE TABLE public.materialized_view_stale_marks (
    view_name  text NOT NULL,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    marked_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT materialized_view_stale_marks_pkey PRIMARY KEY (view_name, id),
    CONSTRAINT materialized_view_stale_marks_view_name_check
        CHECK (view_name IN ('collection_completion_optimized', 'user_stats_optimized'))
);

-- Writes may have happened between 0004 and now: until their first refresh the views count
-- as stale (get_user_stats() computes live meanwhile).
INSERT INTO public.materialized_view_stale_marks (view_name)
VALUES ('collection_completion_optimized'), ('user_stats_optimized');

-- Statement-level trigger: TG_ARGV lists the materialized views the table feeds.
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

-- Refreshes the stale views (default), every view (p_all), or the named ones (p_views, stale
-- or not), in a fixed order; CONCURRENTLY unless p_concurrently is false or the view is not
-- populated. One row per refreshed view.
CREATE FUNCTION public.refresh_materialized_views(
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

-- get_user_stats() (0006) reads the marks to know whether the view is fresh: every role that
-- can read one of the views can read the marks (they say nothing but "view V is stale since").
DO $$
DECLARE
    v_grantee text;
BEGIN
    FOR v_grantee IN
        SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END
          FROM pg_catalog.pg_class c
         CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
          LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
         WHERE c.oid IN ('public.collection_completion_optimized'::regclass, 'public.user_stats_optimized'::regclass)
           AND a.privilege_type = 'SELECT' AND a.grantee <> c.relowner
         ORDER BY 1
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON public.materialized_view_stale_marks TO %s', v_grantee);
        RAISE NOTICE 'granted SELECT on materialized_view_stale_marks to % (it reads the views)', v_grantee;
    END LOOP;
END
$$;

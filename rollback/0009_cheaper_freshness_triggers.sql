-- Rollback of 0009_cheaper_freshness_triggers: 0008's function gets back its 0008 body and
-- settings, then the card triggers call it again, mark_card_rows_stale() goes and the marks'
-- primary key is (view_name, id) again. In that
-- order, so that under `psql -f` (autocommit) no card write meets a trigger function without a
-- card branch. The marks are the same in both versions: nothing to convert.

CREATE OR REPLACE FUNCTION public.mark_materialized_view_rows_stale() RETURNS trigger
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

CREATE OR REPLACE TRIGGER cards_mark_view_rows_stale
    AFTER INSERT OR DELETE ON public.cards
    FOR EACH ROW EXECUTE FUNCTION public.mark_materialized_view_rows_stale();
CREATE OR REPLACE TRIGGER cards_update_mark_view_rows_stale
    AFTER UPDATE OF user_id, collection_id, checklist_card_id, quantity ON public.cards
    FOR EACH ROW WHEN ((OLD.user_id, OLD.collection_id, OLD.checklist_card_id, OLD.quantity)
                       IS DISTINCT FROM (NEW.user_id, NEW.collection_id, NEW.checklist_card_id, NEW.quantity))
    EXECUTE FUNCTION public.mark_materialized_view_rows_stale();

DROP FUNCTION IF EXISTS public.mark_card_rows_stale();

DO $$
BEGIN
  LOCK TABLE public.materialized_view_stale_marks IN ACCESS EXCLUSIVE MODE;
END
$$;

-- boosterz-lint: allow unique-without-index
-- The marks table holds only pending marks: a plain build under its lock blocks nobody longer.
ALTER TABLE public.materialized_view_stale_marks
    DROP CONSTRAINT materialized_view_stale_marks_pkey,
    ADD CONSTRAINT materialized_view_stale_marks_pkey PRIMARY KEY (view_name, id);

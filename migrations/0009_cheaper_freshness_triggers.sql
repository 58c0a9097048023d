-- 0009_cheaper_freshness_triggers: the same marks as 0008, for less of the writers' time.
-- Measured with pgbench (single-row card inserts, one transaction each, durable commits), the
-- freshness trigger of 0008 cost more than its per-row time in a batch suggests: each of its
-- statements pays executor start-up and locks once per transaction, and its NOTIFY check ("has
-- this view any live mark?") scanned the marks a refresh had just deleted, from the oldest.
-- Here, with the same marks, the same readers and the same refresh:
--   * card writes fire a function of their own, mark_card_rows_stale(): one statement tells
--     which of the card's two marks are missing and whether each view had a live mark at all
--     (NOTIFY), one INSERT writes the missing ones; a card whose marks are there costs that one
--     statement and nothing is written;
--   * the primary key of materialized_view_stale_marks becomes (id) instead of (view_name, id):
--     the probes ("has this row a live mark?") then have one index that fits them,
--     materialized_view_stale_marks_row_idx (view_name, user_id, collection_id). With the old
--     key, the planner, seeing a table that a refresh has just emptied, could pick the key's
--     view_name prefix and filter the rest: a read of every mark of the view per write;
--   * the NOTIFY check reads the newest mark first (that key read backwards): the newest marks
--     are nearly always ones written since the last refresh, so it reads the rows a refresh
--     deleted only until a mark written since has committed;
--   * both trigger functions run with enable_seqscan and enable_sort off and one generic plan
--     per session (function settings): index probes whatever the statistics say;
--   * follows get the fast path posts have (both users marked: one statement, nothing written).
-- Semantics are 0008's: README, 0008's header. The rollback puts 0008's function back.
-- CREATE OR REPLACE TRIGGER (PostgreSQL 14+) swaps the function of the two card triggers
-- in place: no DROP, no moment without a trigger.

-- Every lock this transaction needs, first, in the order the application's writers take them
-- (a write locks its table, then the marks in its trigger), as in 0008: a writer can wait for
-- this migration (milliseconds: the marks table holds only pending marks), never deadlock with
-- it. In a DO block so that `psql -f` (autocommit) runs the file too.
DO $$
BEGIN
  LOCK TABLE public.cards, public.posts, public.follows, public.checklist_cards, public.users,
             public.materialized_view_stale_marks IN ACCESS EXCLUSIVE MODE;
END
$$;

-- boosterz-lint: allow unique-without-index
-- The marks table holds only pending marks and is locked above: a plain build blocks nobody longer.
ALTER TABLE public.materialized_view_stale_marks
    DROP CONSTRAINT materialized_view_stale_marks_pkey,
    ADD CONSTRAINT materialized_view_stale_marks_pkey PRIMARY KEY (id);

-- Row-level AFTER trigger of cards (INSERT, DELETE, and an UPDATE that changes what the
-- views read): the card's (user, collection) row of collection_completion_optimized and its
-- user's row of user_stats_optimized, for the old row and, when the card moved, the new one.
CREATE FUNCTION public.mark_card_rows_stale() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET enable_seqscan = off
SET enable_sort = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_user bigint;
    v_collection bigint;
    v_need integer;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_user := NEW.user_id;
        v_collection := NEW.collection_id;
    ELSE
        v_user := OLD.user_id;
        v_collection := OLD.collection_id;
    END IF;
    LOOP
        -- 0: both marks there; else bit 1: the (user, collection) mark is missing, bit 2: the
        -- user's mark is missing, bit 4 / 8: and that view has no live mark at all (NOTIFY)
        SELECT CASE WHEN (SELECT m.id FROM public.materialized_view_stale_marks m
                                  WHERE m.view_name = 'collection_completion_optimized' AND m.user_id = v_user
                                    AND m.collection_id = v_collection AND m.xmax = '0'::xid LIMIT 1) IS NOT NULL THEN 0
                    WHEN (SELECT m.id FROM public.materialized_view_stale_marks m
                           WHERE m.view_name = 'collection_completion_optimized' AND m.xmax = '0'::xid
                           ORDER BY m.id DESC LIMIT 1) IS NULL THEN 5
                    ELSE 1 END
             + CASE WHEN (SELECT m.id FROM public.materialized_view_stale_marks m
                                  WHERE m.view_name = 'user_stats_optimized' AND m.user_id = v_user
                                    AND m.collection_id IS NULL AND m.xmax = '0'::xid LIMIT 1) IS NOT NULL THEN 0
                    WHEN (SELECT m.id FROM public.materialized_view_stale_marks m
                           WHERE m.view_name = 'user_stats_optimized' AND m.xmax = '0'::xid
                           ORDER BY m.id DESC LIMIT 1) IS NULL THEN 10
                    ELSE 2 END
          INTO v_need;
        IF v_need <> 0 THEN
            INSERT INTO public.materialized_view_stale_marks (view_name, user_id, collection_id)
            SELECT k.v, v_user, k.c
              FROM (VALUES (1, 'collection_completion_optimized'::text, v_collection),
                           (2, 'user_stats_optimized'::text, NULL::bigint)) AS k(bit, v, c)
             WHERE v_need & k.bit <> 0;
            IF v_need & 4 <> 0 THEN
                PERFORM pg_notify('boosterz_views_stale', 'collection_completion_optimized');
            END IF;
            IF v_need & 8 <> 0 THEN
                PERFORM pg_notify('boosterz_views_stale', 'user_stats_optimized');
            END IF;
        END IF;
        -- an UPDATE that moves the card to another user or collection marks both rows
        EXIT WHEN TG_OP <> 'UPDATE' OR (NEW.user_id, NEW.collection_id) IS NOT DISTINCT FROM (v_user, v_collection);
        v_user := NEW.user_id;
        v_collection := NEW.collection_id;
    END LOOP;
    RETURN NULL;
END;
$$;

REVOKE ALL ON FUNCTION public.mark_card_rows_stale() FROM PUBLIC;

CREATE OR REPLACE TRIGGER cards_mark_view_rows_stale
    AFTER INSERT OR DELETE ON public.cards
    FOR EACH ROW EXECUTE FUNCTION public.mark_card_rows_stale();
CREATE OR REPLACE TRIGGER cards_update_mark_view_rows_stale
    AFTER UPDATE OF user_id, collection_id, checklist_card_id, quantity ON public.cards
    FOR EACH ROW WHEN ((OLD.user_id, OLD.collection_id, OLD.checklist_card_id, OLD.quantity)
                       IS DISTINCT FROM (NEW.user_id, NEW.collection_id, NEW.checklist_card_id, NEW.quantity))
    EXECUTE FUNCTION public.mark_card_rows_stale();

-- users, checklist_cards, posts and follows (and TRUNCATE of cards) keep 0008's function,
-- without its card branch, with the fast path for follows, the newest-first NOTIFY check and
-- pinned plans.
CREATE OR REPLACE FUNCTION public.mark_materialized_view_rows_stale() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET enable_seqscan = off
SET enable_sort = off
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_users bigint[] := '{}';       -- user_stats_optimized rows (user) to mark
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
        -- the common case first, in one statement: a post or a follow whose rows are all marked
        -- already (one index probe per row, nothing written)
        IF TG_TABLE_NAME = 'posts' AND TG_OP <> 'UPDATE' THEN
            IF (SELECT m.id FROM public.materialized_view_stale_marks m
                        WHERE m.view_name = 'user_stats_optimized'
                          AND m.user_id = CASE WHEN TG_OP = 'INSERT' THEN NEW.user_id ELSE OLD.user_id END
                          AND m.collection_id IS NULL AND m.xmax = '0'::xid LIMIT 1) IS NOT NULL THEN
                RETURN NULL;
            END IF;
        ELSIF TG_TABLE_NAME = 'follows' AND TG_OP <> 'UPDATE' THEN
            IF TG_OP = 'INSERT' THEN
                v_users := ARRAY[NEW.follower_id, NEW.followed_id];
            ELSE
                v_users := ARRAY[OLD.follower_id, OLD.followed_id];
            END IF;
            IF (SELECT m.id FROM public.materialized_view_stale_marks m
                        WHERE m.view_name = 'user_stats_optimized' AND m.user_id = v_users[1]
                          AND m.collection_id IS NULL AND m.xmax = '0'::xid LIMIT 1) IS NOT NULL
               AND (SELECT m.id FROM public.materialized_view_stale_marks m
                            WHERE m.view_name = 'user_stats_optimized' AND m.user_id = v_users[2]
                              AND m.collection_id IS NULL AND m.xmax = '0'::xid LIMIT 1) IS NOT NULL THEN
                RETURN NULL;
            END IF;
            v_users := '{}';
        END IF;
        -- the rows this row feeds, before (OLD) and after (NEW) the change; plpgsql IFs: a
        -- field is only looked up on the table that has it
        IF TG_TABLE_NAME = 'checklist_cards' THEN
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
        ELSIF TG_TABLE_NAME = 'follows' THEN
            IF TG_OP <> 'INSERT' THEN
                v_users := ARRAY[OLD.follower_id, OLD.followed_id];
            END IF;
            IF TG_OP <> 'DELETE' THEN
                v_users := v_users || ARRAY[NEW.follower_id, NEW.followed_id];
            END IF;
        ELSE
            RAISE EXCEPTION 'mark_materialized_view_rows_stale(): no row trigger on % (cards have mark_card_rows_stale())', TG_TABLE_NAME
                  USING ERRCODE = '39P01';
        END IF;
        -- keep only the rows without a live mark: one index probe each
        FOR i IN 1 .. cardinality(v_users) LOOP
            IF (SELECT m.id FROM public.materialized_view_stale_marks m
                            WHERE m.view_name = 'user_stats_optimized' AND m.user_id = v_users[i]
                              AND m.collection_id IS NULL AND m.xmax = '0'::xid LIMIT 1) IS NULL THEN
                v_views := v_views || 'user_stats_optimized'::text;
                v_u := v_u || v_users[i];
                v_c := v_c || NULL::bigint;
            END IF;
        END LOOP;
        FOR i IN 1 .. cardinality(v_collections) LOOP
            FOREACH v_view IN ARRAY ARRAY['user_stats_optimized', 'collection_completion_optimized'] LOOP
                IF (SELECT m.id FROM public.materialized_view_stale_marks m
                                WHERE m.view_name = v_view AND m.user_id IS NULL
                                  AND m.collection_id = v_collections[i] AND m.xmax = '0'::xid LIMIT 1) IS NULL THEN
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
    -- (the newest mark first: the primary key (id) read backwards, see the header)
    FOREACH v_view IN ARRAY ARRAY(SELECT DISTINCT v FROM unnest(v_views) v) LOOP
        IF (SELECT m.id FROM public.materialized_view_stale_marks m
             WHERE m.view_name = v_view AND m.xmax = '0'::xid
             ORDER BY m.id DESC LIMIT 1) IS NULL THEN
            PERFORM pg_notify('boosterz_views_stale', v_view);
        END IF;
    END LOOP;
    INSERT INTO public.materialized_view_stale_marks (view_name, user_id, collection_id)
    SELECT * FROM unnest(v_views, v_u, v_c);
    RETURN NULL;
END;
$$;

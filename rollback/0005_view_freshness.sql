-- boosterz-lint: allow drop
-- Rollback of 0005_view_freshness: drops the triggers, the two functions and the stale-mark
-- register, in dependency order, all IF EXISTS.
DROP FUNCTION IF EXISTS public.refresh_materialized_views(boolean, boolean, text[]);
DROP TRIGGER IF EXISTS follows_mark_views_stale ON public.follows;
DROP TRIGGER IF EXISTS posts_mark_views_stale ON public.posts;
DROP TRIGGER IF EXISTS cards_mark_views_stale ON public.cards;
DROP TRIGGER IF EXISTS checklist_cards_mark_views_stale ON public.checklist_cards;
DROP TRIGGER IF EXISTS users_mark_views_stale ON public.users;
DROP FUNCTION IF EXISTS public.mark_materialized_views_stale();
DROP TABLE IF EXISTS public.materialized_view_stale_marks;

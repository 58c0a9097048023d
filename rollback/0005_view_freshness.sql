-- boosterz-lint: allow drop
-- Rollback of 0005_view_freshness: drops the triggers, the two functions and the stale-mark
-- register, in dependency order, all IF EXISTS.
DROP FUNCTION IF EXISTS refresh_materialized_views(boolean, boolean, text[]);
DROP TRIGGER IF EXISTS follows_mark_views_stale ON follows;
DROP TRIGGER IF EXISTS posts_mark_views_stale ON posts;
DROP TRIGGER IF EXISTS cards_mark_views_stale ON cards;
DROP TRIGGER IF EXISTS checklist_cards_mark_views_stale ON checklist_cards;
DROP TRIGGER IF EXISTS users_mark_views_stale ON users;
DROP FUNCTION IF EXISTS mark_materialized_views_stale();
DROP TABLE IF EXISTS materialized_view_stale_marks;

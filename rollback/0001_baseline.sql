-- boosterz-lint: allow drop
-- Rollback of 0001_baseline: drops every table of the baseline, children before parents.
-- No CASCADE: anything a later migration created must already have been rolled back.
DROP TABLE IF EXISTS activity_log;
DROP TABLE IF EXISTS sessions;
DROP TABLE IF EXISTS notifications;
DROP TABLE IF EXISTS messages;
DROP TABLE IF EXISTS conversation_participants;
DROP TABLE IF EXISTS conversations;
DROP TABLE IF EXISTS follows;
DROP TABLE IF EXISTS post_comments;
DROP TABLE IF EXISTS post_likes;
DROP TABLE IF EXISTS posts;
DROP TABLE IF EXISTS personal_cards;
DROP TABLE IF EXISTS cards;
DROP TABLE IF EXISTS checklist_cards;
DROP TABLE IF EXISTS collections;
DROP TABLE IF EXISTS users;

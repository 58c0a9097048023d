-- boosterz-lint: allow drop
-- Rollback of 0001_baseline: drops every table of the baseline, children before parents.
-- No CASCADE: anything a later migration created must already have been rolled back.
DROP TABLE IF EXISTS public.activity_log;
DROP TABLE IF EXISTS public.sessions;
DROP TABLE IF EXISTS public.notifications;
DROP TABLE IF EXISTS public.messages;
DROP TABLE IF EXISTS public.conversation_participants;
DROP TABLE IF EXISTS public.conversations;
DROP TABLE IF EXISTS public.follows;
DROP TABLE IF EXISTS public.post_comments;
DROP TABLE IF EXISTS public.post_likes;
DROP TABLE IF EXISTS public.posts;
DROP TABLE IF EXISTS public.personal_cards;
DROP TABLE IF EXISTS public.cards;
DROP TABLE IF EXISTS public.checklist_cards;
DROP TABLE IF EXISTS public.collections;
DROP TABLE IF EXISTS public.users;

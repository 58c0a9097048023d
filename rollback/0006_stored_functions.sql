-- Rollback of 0006_stored_functions: drops the five functions (exact signatures), IF EXISTS.
DROP FUNCTION IF EXISTS public.batch_update_ownership(bigint, jsonb);
DROP FUNCTION IF EXISTS public.get_user_conversations(bigint, integer);
DROP FUNCTION IF EXISTS public.get_user_stats(bigint);
DROP FUNCTION IF EXISTS public.get_social_feed(bigint, timestamptz, bigint, integer);
DROP FUNCTION IF EXISTS public.get_collection_with_ownership(bigint, bigint);

-- Rollback of 0004_materialized_views: drops both materialized views (their unique indexes
-- go with them). No CASCADE: objects of later migrations must already be rolled back.
DROP MATERIALIZED VIEW IF EXISTS public.user_stats_optimized;
DROP MATERIALIZED VIEW IF EXISTS public.collection_completion_optimized;

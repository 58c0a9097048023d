-- Rollback of 0007_monitoring_and_maintenance: drops what 0007 creates, IF EXISTS.
DROP FUNCTION IF EXISTS public.cleanup_old_data(integer, integer, interval, interval, interval, boolean);
DROP VIEW IF EXISTS public.unused_indexes;
DROP VIEW IF EXISTS public.slow_queries_monitor;
DROP FUNCTION IF EXISTS public.slow_queries(double precision);

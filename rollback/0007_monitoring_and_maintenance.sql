-- Rollback of 0007_monitoring_and_maintenance: drops what 0007 creates, IF EXISTS.
DROP FUNCTION IF EXISTS cleanup_old_data(integer, integer, interval, interval, interval, boolean);
DROP VIEW IF EXISTS unused_indexes;
DROP VIEW IF EXISTS slow_queries_monitor;
DROP FUNCTION IF EXISTS slow_queries(double precision);

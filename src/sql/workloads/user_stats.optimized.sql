-- User stats after the migration: the stored function (0006), which reads
-- user_stats_optimized when no stale mark is pending, else computes live with the indexes.
-- $1 user_id
SELECT * FROM get_user_stats($1::bigint);

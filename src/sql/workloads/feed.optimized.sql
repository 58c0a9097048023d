-- Social feed after the migration: the stored function (0006) with the 0003 indexes.
-- $1 user_id, $2 before created_at, $3 before post_id, $4 page size
SELECT * FROM get_social_feed($1::bigint, $2::timestamptz, $3::bigint, $4::integer);

-- Conversations after the migration: the stored function (0006) with the 0003 indexes.
-- $1 user_id, $2 how many
SELECT * FROM get_user_conversations($1::bigint, $2::integer);

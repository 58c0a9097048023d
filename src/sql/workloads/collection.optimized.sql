-- Collection loading after the migration: the stored function (0006) with the 0003 indexes.
-- $1 user_id, $2 collection_id
SELECT * FROM get_collection_with_ownership($1::bigint, $2::bigint);

-- Under-writes targets, card updates: up to 3 cards of each of $3 users of the group (members
-- of $1 when $2, else the others; deterministic for a seed $4), with another collection to
-- move the card to (the next collection by id), and the values the writers change (to restore
-- them exactly afterwards: updated_at as text, microseconds included).
WITH chosen AS (
    SELECT u.id AS user_id
      FROM users u
     WHERE (u.id = ANY ($1::bigint[])) = $2::boolean
     ORDER BY hashint8extended(u.id, $4::bigint)
     LIMIT $3::integer
), owned AS (
    SELECT c.id, c.user_id, c.collection_id, c.quantity, c.updated_at,
           row_number() OVER (PARTITION BY c.user_id ORDER BY hashint8extended(c.id, $4::bigint)) AS i
      FROM cards c
      JOIN chosen ch ON ch.user_id = c.user_id
)
SELECT o.id::text AS card_id, o.user_id::text AS user_id, o.collection_id::text AS collection_id,
       o.quantity, o.updated_at::text AS updated_at,
       coalesce((SELECT min(k.id) FROM collections k WHERE k.id > o.collection_id),
                (SELECT min(k.id) FROM collections k))::text AS other_collection_id
  FROM owned o
 WHERE o.i <= 3
 ORDER BY hashint8extended(o.id, $4::bigint);

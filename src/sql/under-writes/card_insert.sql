-- Under-writes targets, card inserts: for $3 users of the group (members of $1 when $2, else
-- the others; deterministic for a seed $4), a checklist card of one of the collections they
-- have started (any collection for a user with no card yet) to add a copy of.
-- Set-based (hash joins, one pass over cards): the baseline schema has no secondary index.
WITH chosen AS (
    SELECT u.id AS user_id
      FROM users u
     WHERE (u.id = ANY ($1::bigint[])) = $2::boolean
     ORDER BY hashint8extended(u.id, $4::bigint)
     LIMIT $3::integer
), started AS (
    SELECT DISTINCT ON (c.user_id) c.user_id, c.collection_id
      FROM cards c
      JOIN chosen ch ON ch.user_id = c.user_id
     ORDER BY c.user_id, hashint8extended(c.id, $4::bigint)
), sets AS (
    SELECT k.id AS collection_id, row_number() OVER (ORDER BY k.id) AS i, count(*) OVER () AS n
      FROM collections k
     WHERE EXISTS (SELECT 1 FROM checklist_cards x WHERE x.collection_id = k.id)
), target AS (
    SELECT ch.user_id,
           coalesce(s.collection_id,
                    (SELECT t.collection_id FROM sets t
                      WHERE t.i = 1 + (hashint8extended(ch.user_id, $4::bigint + 1) & 1073741823) % t.n)) AS collection_id
      FROM chosen ch
      LEFT JOIN started s ON s.user_id = ch.user_id
), numbered AS (
    SELECT x.id, x.collection_id,
           row_number() OVER (PARTITION BY x.collection_id ORDER BY x.id) AS i,
           count(*) OVER (PARTITION BY x.collection_id) AS n
      FROM checklist_cards x
     WHERE x.collection_id IN (SELECT collection_id FROM target)
)
SELECT t.user_id::text AS user_id, t.collection_id::text AS collection_id, x.id::text AS checklist_card_id
  FROM target t
  JOIN numbered x ON x.collection_id = t.collection_id
                 AND x.i = 1 + (hashint8extended(t.user_id, $4::bigint + 2) & 1073741823) % x.n
 ORDER BY hashint8extended(t.user_id, $4::bigint);

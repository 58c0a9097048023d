-- Under-writes targets, chat messages: up to 3 conversations of each of $3 users of the group
-- (members of $1 when $2, else the others; deterministic for a seed $4) to send a message in.
WITH chosen AS (
    SELECT u.id AS user_id
      FROM users u
     WHERE (u.id = ANY ($1::bigint[])) = $2::boolean
     ORDER BY hashint8extended(u.id, $4::bigint)
     LIMIT $3::integer
), theirs AS (
    SELECT cp.conversation_id, cp.user_id,
           row_number() OVER (PARTITION BY cp.user_id ORDER BY hashint8extended(cp.conversation_id, $4::bigint)) AS i
      FROM conversation_participants cp
      JOIN chosen ch ON ch.user_id = cp.user_id
)
SELECT t.conversation_id::text AS conversation_id, t.user_id::text AS user_id
  FROM theirs t
 WHERE t.i <= 3
 ORDER BY hashint8extended(t.conversation_id * 7919 + t.user_id, $4::bigint);

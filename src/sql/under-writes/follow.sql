-- Under-writes targets, follows: for $3 users of the group (members of $1 when $2, else the
-- others; deterministic for a seed $4), up to 4 users they do not follow yet. Each pair is
-- new: deleting the pairs afterwards removes exactly what the writers added.
WITH chosen AS (
    SELECT u.id AS user_id, row_number() OVER (ORDER BY hashint8extended(u.id, $4::bigint)) AS k
      FROM users u
     WHERE (u.id = ANY ($1::bigint[])) = $2::boolean
     ORDER BY hashint8extended(u.id, $4::bigint)
     LIMIT $3::integer
), sample AS (
    SELECT u.id AS followed_id, row_number() OVER (ORDER BY hashint8extended(u.id, $4::bigint + 1)) AS k
      FROM users u
     ORDER BY hashint8extended(u.id, $4::bigint + 1)
     LIMIT 4 * $3::integer
), pairs AS (
    SELECT DISTINCT ch.user_id AS follower_id, s.followed_id
      FROM chosen ch
      JOIN sample s ON (s.k - 1) % $3::integer = ch.k - 1
     WHERE s.followed_id <> ch.user_id
)
SELECT p.follower_id::text AS user_id, p.followed_id::text AS followed_id
  FROM pairs p
 WHERE NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = p.follower_id AND f.followed_id = p.followed_id)
 ORDER BY hashint8extended(p.follower_id * 7919 + p.followed_id, $4::bigint);

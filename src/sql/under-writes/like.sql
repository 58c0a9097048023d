-- Under-writes targets, likes: for $3 users of the group (members of $1 when $2, else the
-- others; deterministic for a seed $4), up to 4 posts of other users they have not liked.
-- Each pair is new: deleting the pairs afterwards removes exactly what the writers added.
WITH chosen AS (
    SELECT u.id AS user_id, row_number() OVER (ORDER BY hashint8extended(u.id, $4::bigint)) AS k
      FROM users u
     WHERE (u.id = ANY ($1::bigint[])) = $2::boolean
     ORDER BY hashint8extended(u.id, $4::bigint)
     LIMIT $3::integer
), sample AS (
    SELECT p.id AS post_id, p.user_id AS author_id, row_number() OVER (ORDER BY hashint8extended(p.id, $4::bigint)) AS k
      FROM posts p
     ORDER BY hashint8extended(p.id, $4::bigint)
     LIMIT 4 * $3::integer
), pairs AS (
    SELECT DISTINCT ON (s.post_id, ch.user_id) s.post_id, ch.user_id
      FROM chosen ch
      JOIN sample s ON (s.k - 1) % $3::integer = ch.k - 1
     WHERE s.author_id <> ch.user_id
)
SELECT p.post_id::text AS post_id, p.user_id::text AS user_id
  FROM pairs p
 WHERE NOT EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.post_id AND l.user_id = p.user_id)
 ORDER BY hashint8extended(p.post_id * 7919 + p.user_id, $4::bigint);

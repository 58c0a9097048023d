-- Social feed, as the app runs it on the baseline schema: posts of the people user $1
-- follows, newest first, with like and comment counts and whether $1 liked each; keyset
-- pagination on (created_at, post_id) descending.
-- Same columns, types and order as get_social_feed($1, $2, $3, $4) (0006).
-- $1 user_id; $2 created_at and $3 post_id of the last row of the previous page (both NULL
-- for the first page; $3 NULL = strictly before $2); $4 page size (NULL = no limit)
SELECT p.id AS post_id,
       p.user_id AS author_id,
       u.username AS author_username,
       p.content,
       p.image_url,
       p.created_at,
       coalesce(likes.n, 0) AS like_count,
       coalesce(comments.n, 0) AS comment_count,
       coalesce(likes.mine, false) AS liked_by_me
  FROM posts p
  JOIN users u ON u.id = p.user_id
  LEFT JOIN (SELECT l.post_id, count(*) AS n, bool_or(l.user_id = $1::bigint) AS mine
               FROM post_likes l
              GROUP BY l.post_id) likes ON likes.post_id = p.id
  LEFT JOIN (SELECT pc.post_id, count(*) AS n
               FROM post_comments pc
              GROUP BY pc.post_id) comments ON comments.post_id = p.id
 WHERE p.user_id IN (SELECT f.followed_id FROM follows f WHERE f.follower_id = $1::bigint)
   AND ($2::timestamptz IS NULL
        OR p.created_at < $2::timestamptz
        OR (p.created_at = $2::timestamptz AND p.id < $3::bigint))
 ORDER BY p.created_at DESC, p.id DESC
 LIMIT $4::integer;

-- Likes: about 2M at scale 1. Popular posts and active users get most of them; a like
-- comes after its post. A (post, user) pair drawn twice is kept once (its first draw),
-- hence "about".
INSERT INTO post_likes (post_id, user_id, created_at)
SELECT x.post_id,
       x.user_id,
       pg_temp.bz_ago(pg_temp.bz_post_age(x.seed, x.n_users, x.post_id) * pg_temp.bz_u(x.seed, x.g, 93))
  FROM (SELECT min(y.g) AS g, y.post_id, y.user_id, y.seed, y.n_users
          FROM (SELECT g,
                       pg_temp.bz_pick(p.n_posts, pg_temp.bz_u(p.seed, g, 91), 2) AS post_id,
                       pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 92), 1.5) AS user_id,
                       p.seed,
                       p.n_users
                  FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_count(2000000, 50) AS n,
                               (SELECT max(id) FROM users) AS n_users, (SELECT max(id) FROM posts) AS n_posts
                        OFFSET 0) p,
                       generate_series(1, p.n) AS g
                OFFSET 0) y
         GROUP BY y.post_id, y.user_id, y.seed, y.n_users
        OFFSET 0) x;

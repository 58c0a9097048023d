-- Follows: 400k at scale 1. Everyone follows a dozen people or more, active users many;
-- the followed are skewed much more (a few influencers have thousands of followers).
-- Draws a third more pairs than needed, drops self-follows and repeated pairs (the first
-- draw wins), and keeps the first 400k.
INSERT INTO follows (follower_id, followed_id, created_at)
SELECT x.follower_id,
       x.followed_id,
       -- after both signed up
       pg_temp.bz_ago(least(pg_temp.bz_user_age(x.follower_id, x.n_users), pg_temp.bz_user_age(x.followed_id, x.n_users))
                      * pg_temp.bz_u(x.seed, x.g, 113))
  FROM (SELECT min(y.g) AS g, y.follower_id, y.followed_id, y.seed, y.n_users, y.n
          FROM (SELECT g,
                       pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 111), 1.5) AS follower_id,
                       pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 112), 3) AS followed_id,
                       p.seed,
                       p.n_users,
                       p.n
                  FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_count(400000, 20) AS n,
                               (SELECT max(id) FROM users) AS n_users
                        OFFSET 0) p,
                       generate_series(1, p.n * 4 / 3) AS g
                OFFSET 0) y
         WHERE y.follower_id <> y.followed_id
         GROUP BY y.follower_id, y.followed_id, y.seed, y.n_users, y.n
         ORDER BY min(y.g)
         LIMIT (SELECT pg_temp.bz_count(400000, 20))) x;

-- Follows: about 400k at scale 1. Everyone follows a dozen people or more, active users
-- many; the followed are skewed much more (a few influencers have thousands of followers).
-- Self-follows and duplicate pairs are dropped, hence "about".
INSERT INTO follows (follower_id, followed_id, created_at)
SELECT x.follower_id,
       x.followed_id,
       -- after both signed up
       pg_temp.bz_ago(least(pg_temp.bz_user_age(x.follower_id, x.n_users), pg_temp.bz_user_age(x.followed_id, x.n_users))
                      * pg_temp.bz_u(x.seed, x.g, 113))
  FROM (SELECT g,
               pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 111), 1.5) AS follower_id,
               pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 112), 3) AS followed_id,
               p.seed,
               p.n_users
          FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_count(408000, 20) AS n,
                       (SELECT max(id) FROM users) AS n_users
                OFFSET 0) p,
               generate_series(1, p.n) AS g
        OFFSET 0) x
 WHERE x.follower_id <> x.followed_id
ON CONFLICT DO NOTHING;

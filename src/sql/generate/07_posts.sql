-- Posts: 400k at scale 1; a few users post a lot (authors skewed towards early users).
-- Author and time come from bz_post_user / bz_post_age, which the likes and comments
-- reuse to come after the post.
INSERT INTO posts (id, user_id, content, image_url, created_at, updated_at)
SELECT x.id,
       x.user_id,
       (ARRAY['Just pulled this one!', 'Who wants to trade?', 'Set complete, finally.', 'Look at this rookie',
              'Mail day', 'Best pack of the year', 'Still missing a few numbers', 'For sale, DM me',
              'Graded copies are back', 'Which parallel is rarer?'])[1 + floor(10 * pg_temp.bz_u(x.seed, x.id, 81))::integer]
           || ' #' || x.id,
       CASE WHEN pg_temp.bz_u(x.seed, x.id, 82) < 0.4 THEN 'https://img.boosterz.test/posts/' || x.id || '.jpg' END,
       pg_temp.bz_ago(x.age),
       pg_temp.bz_ago(CASE WHEN pg_temp.bz_u(x.seed, x.id, 83) < 0.05 THEN x.age * pg_temp.bz_u(x.seed, x.id, 84) ELSE x.age END)
  FROM (SELECT g AS id,
               pg_temp.bz_post_user(p.seed, p.n_users, g) AS user_id,
               pg_temp.bz_post_age(p.seed, p.n_users, g) AS age,
               p.seed
          FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_count(400000, 20) AS n,
                       (SELECT max(id) FROM users) AS n_users
                OFFSET 0) p,
               generate_series(1, p.n) AS g
        OFFSET 0) x;

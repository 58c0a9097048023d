-- Comments: 200k at scale 1, on popular posts mostly, after the post.
INSERT INTO post_comments (id, post_id, user_id, content, created_at, updated_at)
SELECT x.id,
       x.post_id,
       x.user_id,
       (ARRAY['Great pull!', 'How much?', 'Interested, check your DMs', 'I have the gold one',
              'Congrats', 'Is it centered?', 'Still available?', 'Nice collection'])[1 + floor(8 * pg_temp.bz_u(x.seed, x.id, 103))::integer],
       pg_temp.bz_ago(pg_temp.bz_post_age(x.seed, x.n_users, x.post_id) * pg_temp.bz_u(x.seed, x.id, 104)),
       pg_temp.bz_ago(pg_temp.bz_post_age(x.seed, x.n_users, x.post_id) * pg_temp.bz_u(x.seed, x.id, 104))
  FROM (SELECT g AS id,
               pg_temp.bz_pick(p.n_posts, pg_temp.bz_u(p.seed, g, 101), 2) AS post_id,
               pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 102), 2) AS user_id,
               p.seed,
               p.n_users
          FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_count(200000, 20) AS n,
                       (SELECT max(id) FROM users) AS n_users, (SELECT max(id) FROM posts) AS n_posts
                OFFSET 0) p,
               generate_series(1, p.n) AS g
        OFFSET 0) x;

-- Activity trail: 200k at scale 1 over the last two years (old rows are what
-- cleanup_old_data() prunes); 5% are system actions without a user.
INSERT INTO activity_log (id, user_id, action, entity_type, entity_id, details, created_at)
SELECT x.id,
       CASE WHEN x.kind < 7 THEN x.user_id END,
       (ARRAY['login', 'card.add', 'card.update', 'post.create', 'follow', 'trade.offer', 'profile.update',
              'system.reindex'])[1 + x.kind],
       (ARRAY['session', 'card', 'card', 'post', 'user', 'card', 'user', NULL])[1 + x.kind],
       CASE WHEN x.kind < 7 THEN floor(100000 * pg_temp.bz_u(x.seed, x.id, 173))::bigint + 1 END,
       CASE WHEN x.kind = 5 THEN jsonb_build_object('offer', floor(500 * pg_temp.bz_u(x.seed, x.id, 174))::integer) END,
       pg_temp.bz_ago(x.age)
  FROM (SELECT g AS id,
               pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 171), 2) AS user_id,
               -- 0..6 user actions, 7 system (5%)
               CASE WHEN pg_temp.bz_u(p.seed, g, 172) < 0.05 THEN 7
                    ELSE floor(7 * pg_temp.bz_u(p.seed, g, 175))::integer END AS kind,
               pg_temp.bz_user_age(pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 171), 2), p.n_users)
                   * pg_temp.bz_u(p.seed, g, 176) AS age,
               p.seed
          FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_count(200000, 20) AS n,
                       (SELECT max(id) FROM users) AS n_users
                OFFSET 0) p,
               generate_series(1, p.n) AS g
        OFFSET 0) x;

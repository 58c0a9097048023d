-- Notifications: 1M at scale 1, skewed towards active users and towards recent times.
-- 70% were read (most within hours); read ones older than the retention are what
-- cleanup_old_data() prunes.
INSERT INTO notifications (id, user_id, type, payload, created_at, read_at)
SELECT x.id,
       x.user_id,
       (ARRAY['post_like', 'post_comment', 'new_follower', 'new_message', 'trade_offer'])[1 + x.kind],
       jsonb_build_object('actor_id', pg_temp.bz_pick(x.n_users, pg_temp.bz_u(x.seed, x.id, 153), 1.5),
                          CASE x.kind WHEN 2 THEN 'user_id' WHEN 3 THEN 'conversation_id' ELSE 'post_id' END,
                          floor(1000 * pg_temp.bz_u(x.seed, x.id, 154))::integer + 1),
       pg_temp.bz_ago(x.age),
       CASE WHEN pg_temp.bz_u(x.seed, x.id, 155) < 0.7
            THEN pg_temp.bz_ago(x.age * (1 - pg_temp.bz_u(x.seed, x.id, 156) ^ 6)) END
  FROM (SELECT g AS id,
               pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 151), 2) AS user_id,
               floor(5 * pg_temp.bz_u(p.seed, g, 152))::integer AS kind,
               pg_temp.bz_user_age(pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 151), 2), p.n_users)
                   * pg_temp.bz_u(p.seed, g, 157) ^ 2 AS age,
               p.seed,
               p.n_users
          FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_count(1000000, 20) AS n,
                       (SELECT max(id) FROM users) AS n_users
                OFFSET 0) p,
               generate_series(1, p.n) AS g
        OFFSET 0) x;

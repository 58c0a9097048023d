-- Login sessions: 40k at scale 1 over the last two years, valid 30 days; 10% were revoked
-- (logout). Expired and revoked ones past the retention are what cleanup_old_data() prunes.
INSERT INTO sessions (id, user_id, token_hash, user_agent, ip_address, created_at, last_seen_at, expires_at, revoked_at)
SELECT x.id,
       x.user_id,
       md5(x.seed || ':session:' || x.id),
       (ARRAY['Boosterz/3.2 iOS 18', 'Boosterz/3.2 Android 15', 'Boosterz/3.1 iOS 17',
              'Mozilla/5.0 (Macintosh) Safari', 'Mozilla/5.0 (Windows NT 10.0) Chrome'])[1 + floor(5 * pg_temp.bz_u(x.seed, x.id, 163))::integer],
       ('10.' || (x.id >> 16) % 256 || '.' || (x.id >> 8) % 256 || '.' || x.id % 256)::inet,
       pg_temp.bz_ago(x.age),
       pg_temp.bz_ago(greatest(x.age - 30 * 86400, x.age * pg_temp.bz_u(x.seed, x.id, 164))),
       pg_temp.bz_ago(x.age - 30 * 86400),
       CASE WHEN pg_temp.bz_u(x.seed, x.id, 165) < 0.1
            THEN pg_temp.bz_ago(greatest(0, x.age - 86400 * 30 * pg_temp.bz_u(x.seed, x.id, 166))) END
  FROM (SELECT g AS id,
               pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 161), 2) AS user_id,
               pg_temp.bz_user_age(pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 161), 2), p.n_users)
                   * pg_temp.bz_u(p.seed, g, 162) AS age,
               p.seed
          FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_count(40000, 10) AS n,
                       (SELECT max(id) FROM users) AS n_users
                OFFSET 0) p,
               generate_series(1, p.n) AS g
        OFFSET 0) x;

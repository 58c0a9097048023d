-- Users: 20k at scale 1. Ids follow sign-up order; early users are the power users (the
-- other tables pick users with a skew towards small ids).
INSERT INTO users (id, username, email, display_name, avatar_url, bio, created_at, updated_at, last_seen_at)
SELECT g,
       'collector' || g,
       'collector' || g || '@example.test',
       (ARRAY['Alex', 'Sam', 'Lea', 'Hugo', 'Ines', 'Noah', 'Emma', 'Jules', 'Lina', 'Tom',
              'Chloe', 'Adam', 'Zoe', 'Louis', 'Jade', 'Nina'])[1 + floor(16 * x.u1)::integer]
           || ' ' || (ARRAY['M.', 'B.', 'D.', 'L.', 'R.', 'P.', 'G.', 'F.'])[1 + floor(8 * x.u2)::integer],
       CASE WHEN x.u3 < 0.6 THEN 'https://img.boosterz.test/avatars/' || g || '.jpg' END,
       CASE WHEN x.u4 < 0.3 THEN (ARRAY['Rookies and autos only', 'Completing every Prizm set',
                                        'Trading doubles, DM me', 'Graded cards collector'])[1 + floor(4 * x.u5)::integer] END,
       pg_temp.bz_ago(x.age),
       pg_temp.bz_ago(x.age * x.u6),
       -- 15% never came back after signing up; the others were seen lately, most very lately
       CASE WHEN x.u7 < 0.15 THEN pg_temp.bz_ago(x.age) ELSE pg_temp.bz_ago(least(x.age, 90 * 86400 * x.u8 ^ 3)) END
  FROM (SELECT g,
               pg_temp.bz_user_age(g, p.n) AS age,
               pg_temp.bz_u(p.seed, g, 11) AS u1, pg_temp.bz_u(p.seed, g, 12) AS u2,
               pg_temp.bz_u(p.seed, g, 13) AS u3, pg_temp.bz_u(p.seed, g, 14) AS u4,
               pg_temp.bz_u(p.seed, g, 15) AS u5, pg_temp.bz_u(p.seed, g, 16) AS u6,
               pg_temp.bz_u(p.seed, g, 17) AS u7, pg_temp.bz_u(p.seed, g, 18) AS u8
          FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_count(20000, 10) AS n OFFSET 0) p,
               generate_series(1, p.n) AS g
        OFFSET 0) x;

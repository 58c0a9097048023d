-- Conversations: 100k at scale 1; 85% between two people, the others groups of 3 to 6
-- with a title. Members come from bz_member (11_conversation_participants.sql), the start
-- from bz_conv_age (after the first two members signed up).
INSERT INTO conversations (id, title, created_at, updated_at)
SELECT x.id,
       CASE WHEN pg_temp.bz_conv_size(x.seed, x.id) > 2
            THEN (ARRAY['Trade group', 'Prizm hunters', 'Set builders', 'Rookie club'])[1 + floor(4 * pg_temp.bz_u(x.seed, x.id, 121))::integer] || ' ' || x.id END,
       x.created_at,
       x.created_at
  FROM (SELECT g AS id,
               pg_temp.bz_ago(pg_temp.bz_conv_age(p.seed, p.n_users, g)) AS created_at,
               p.seed
          FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_count(100000, 5) AS n,
                       (SELECT max(id) FROM users) AS n_users
                OFFSET 0) p,
               generate_series(1, p.n) AS g
        OFFSET 0) x;

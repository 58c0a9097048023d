-- Participants: 2 to 6 per conversation (bz_member: the first two always differ; a group
-- member drawn twice is kept once, as its first draw). last_read_at: 10% never opened the
-- conversation (NULL), the others read it at some point after it started, most of them
-- lately, so unread counts vary from none to all.
INSERT INTO conversation_participants (conversation_id, user_id, joined_at, last_read_at)
SELECT DISTINCT ON (x.conversation_id, x.user_id)
       x.conversation_id,
       x.user_id,
       x.created_at,
       CASE WHEN pg_temp.bz_u(x.seed, x.conversation_id * 8 + x.j, 131) < 0.1 THEN NULL
            ELSE pg_temp.bz_ago(x.age * pg_temp.bz_u(x.seed, x.conversation_id * 8 + x.j, 132) ^ 4) END
  FROM (SELECT c.id AS conversation_id,
               j,
               pg_temp.bz_member(p.seed, p.n_users, c.id, j) AS user_id,
               c.created_at,
               extract(epoch FROM pg_temp.bz_t0() - c.created_at)::double precision AS age,
               p.seed
          FROM (SELECT pg_temp.bz_seed() AS seed, (SELECT max(id) FROM users) AS n_users OFFSET 0) p,
               conversations c,
               generate_series(0, pg_temp.bz_conv_size(p.seed, c.id) - 1) AS j
        OFFSET 0) x
 ORDER BY x.conversation_id, x.user_id, x.j;

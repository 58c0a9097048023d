-- Messages: about 2M at scale 1. Busy conversations get most of them (skewed towards small
-- ids); 3% of the conversations have none (dropped draws, hence "about"). The sender is a
-- participant; the time is after the conversation started; 3% were edited.
INSERT INTO messages (id, conversation_id, sender_id, content, created_at, edited_at)
SELECT x.id,
       x.conversation_id,
       pg_temp.bz_member(x.seed, x.n_users, x.conversation_id, x.member),
       (ARRAY['Hi! Still have the Gold parallel?', 'Deal.', 'What do you want for it?', 'Sending pics',
              'Can you do a 2 for 1?', 'Shipped today', 'Received, thanks!', 'Let me check my doubles',
              'Is the corner damaged?', 'ok'])[1 + floor(10 * pg_temp.bz_u(x.seed, x.id, 143))::integer],
       pg_temp.bz_ago(x.age),
       CASE WHEN pg_temp.bz_u(x.seed, x.id, 144) < 0.03 THEN pg_temp.bz_ago(greatest(0, x.age - 600 * pg_temp.bz_u(x.seed, x.id, 145))) END
  FROM (SELECT y.*,
               -- the sender: one of the members
               floor(pg_temp.bz_conv_size(y.seed, y.conversation_id) * pg_temp.bz_u(y.seed, y.id, 142))::integer AS member,
               pg_temp.bz_conv_age(y.seed, y.n_users, y.conversation_id) * pg_temp.bz_u(y.seed, y.id, 146) AS age
          FROM (SELECT g AS id,
                       pg_temp.bz_pick(p.n_conversations, pg_temp.bz_u(p.seed, g, 141), 1.5) AS conversation_id,
                       p.seed,
                       p.n_users
                  FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_count(2060000, 20) AS n,
                               (SELECT max(id) FROM users) AS n_users, (SELECT max(id) FROM conversations) AS n_conversations
                        OFFSET 0) p,
                       generate_series(1, p.n) AS g
                OFFSET 0) y
         WHERE pg_temp.bz_u(y.seed, y.conversation_id, 147) >= 0.03
        OFFSET 0) x;

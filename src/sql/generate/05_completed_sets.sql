-- Collectors finish the sets they are well into: for half of the (user, collection) pairs
-- that own at least a third of the checklist, add one card for every checklist card still
-- missing, so some users have complete collections (completion 100%). Ids continue after
-- the cards of 04_cards.sql.
INSERT INTO cards (id, user_id, collection_id, checklist_card_id, condition, quantity, is_for_trade,
                   is_for_sale, created_at, updated_at)
SELECT x.max_id + row_number() OVER (ORDER BY x.user_id, x.checklist_card_id),
       x.user_id,
       x.collection_id,
       x.checklist_card_id,
       'near mint',
       1,
       false,
       false,
       pg_temp.bz_ago(pg_temp.bz_user_age(x.user_id, x.n_users) * pg_temp.bz_u(x.seed, x.user_id * 1000003 + x.checklist_card_id, 57) ^ 2),
       pg_temp.bz_ago(pg_temp.bz_user_age(x.user_id, x.n_users) * pg_temp.bz_u(x.seed, x.user_id * 1000003 + x.checklist_card_id, 57) ^ 2)
  FROM (SELECT pr.user_id, cc.collection_id, cc.id AS checklist_card_id, p.seed, p.n_users, p.max_id
          FROM (SELECT pg_temp.bz_seed() AS seed, (SELECT max(id) FROM users) AS n_users,
                       (SELECT max(id) FROM cards) AS max_id
                OFFSET 0) p,
               (SELECT o.user_id, o.collection_id
                  FROM (SELECT c.user_id, c.collection_id, count(DISTINCT cc.id) AS owned
                          FROM cards c
                          JOIN checklist_cards cc ON cc.id = c.checklist_card_id AND cc.collection_id = c.collection_id
                         GROUP BY c.user_id, c.collection_id) o
                  JOIN (SELECT collection_id, count(*) AS size FROM checklist_cards GROUP BY collection_id) s
                    ON s.collection_id = o.collection_id
                 WHERE o.owned >= s.size / 3.0 AND o.owned < s.size) pr
          JOIN checklist_cards cc ON cc.collection_id = pr.collection_id
         WHERE pg_temp.bz_u(p.seed, pr.user_id * 1000003 + pr.collection_id, 56) < 0.5
           AND NOT EXISTS (SELECT 1 FROM cards c
                            WHERE c.user_id = pr.user_id AND c.checklist_card_id = cc.id)
        OFFSET 0) x;

-- Personal cards (outside any collection): 100k at scale 1, owners skewed like the cards.
-- 40% are linked to a checklist card and copy its player, team, number and variant; a
-- fraction boosterz.orphans of those links point at a checklist card that does not exist.
INSERT INTO personal_cards (id, user_id, checklist_card_id, player_name, team, brand, season, card_number,
                            variant_name, condition, quantity, is_for_trade, image_url, notes, created_at, updated_at)
SELECT x.id,
       x.user_id,
       CASE WHEN NOT x.linked THEN NULL
            WHEN x.orphan THEN pg_temp.bz_orphan_id(pg_temp.bz_u(x.seed, x.id, 64))
            ELSE x.checklist_card_id END,
       coalesce(cc.player_name,
                (ARRAY['Zinedine', 'Thierry', 'Ronaldo', 'Paolo', 'Johan', 'Franz', 'Diego', 'Eric'])[1 + floor(8 * pg_temp.bz_u(x.seed, x.id, 65))::integer]
                || ' ' || (ARRAY['Legend', 'Classic', 'Star', 'Hero'])[1 + floor(4 * pg_temp.bz_u(x.seed, x.id, 66))::integer]),
       cc.team,
       co.brand,
       co.season,
       cc.card_number,
       cc.variant_name,
       (ARRAY['mint', 'near mint', 'excellent', 'very good', 'good', 'poor', NULL])[1 + floor(7 * pg_temp.bz_u(x.seed, x.id, 67))::integer],
       1 + (pg_temp.bz_u(x.seed, x.id, 68) < 0.1)::integer,
       pg_temp.bz_u(x.seed, x.id, 69) < 0.15,
       CASE WHEN pg_temp.bz_u(x.seed, x.id, 70) < 0.5 THEN 'https://img.boosterz.test/personal/' || x.id || '.jpg' END,
       CASE WHEN pg_temp.bz_u(x.seed, x.id, 71) < 0.1 THEN 'from a 1990s binder' END,
       pg_temp.bz_ago(x.age),
       pg_temp.bz_ago(x.age * pg_temp.bz_u(x.seed, x.id, 72))
  FROM (SELECT g AS id,
               pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 60), 2) AS user_id,
               pg_temp.bz_u(p.seed, g, 61) < 0.4 AS linked,
               pg_temp.bz_u(p.seed, g, 62) < p.orphans AS orphan,
               pg_temp.bz_pick(p.n_checklist, pg_temp.bz_u(p.seed, g, 63), 1) AS checklist_card_id,
               pg_temp.bz_user_age(pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 60), 2), p.n_users)
                   * pg_temp.bz_u(p.seed, g, 73) AS age,
               p.seed
          FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_orphans() AS orphans, pg_temp.bz_count(100000, 10) AS n,
                       (SELECT max(id) FROM users) AS n_users, (SELECT max(id) FROM checklist_cards) AS n_checklist
                OFFSET 0) p,
               generate_series(1, p.n) AS g
        OFFSET 0) x
  LEFT JOIN checklist_cards cc ON x.linked AND NOT x.orphan AND cc.id = x.checklist_card_id
  LEFT JOIN collections co ON co.id = cc.collection_id;

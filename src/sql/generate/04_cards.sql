-- Ownership: 2M cards at scale 1. The owner is picked with a power law (user 1 owns about
-- 3.7% of all cards, a median user a few dozen); each user collects 1 to 12 favourite
-- collections (popular sets have small ids), the first one mostly; the card is a checklist
-- card of that collection, so power users complete whole sets. 2% are not identified yet
-- (checklist_card_id NULL); a fraction boosterz.orphans of the others point at a checklist
-- card that does not exist.
INSERT INTO cards (id, user_id, collection_id, checklist_card_id, condition, quantity, is_for_trade,
                   is_for_sale, asking_price, notes, created_at, updated_at)
SELECT x.id,
       x.user_id,
       x.collection_id,
       CASE WHEN pg_temp.bz_u(x.seed, x.id, 43) < 0.02 THEN NULL
            WHEN pg_temp.bz_u(x.seed, x.id, 44) < x.orphans THEN pg_temp.bz_orphan_id(pg_temp.bz_u(x.seed, x.id, 45))
            ELSE s.first_id + floor(s.n * pg_temp.bz_u(x.seed, x.id, 46))::bigint END,
       (ARRAY['mint', 'near mint', 'excellent', 'very good', 'good', 'poor', NULL])[1 + floor(7 * pg_temp.bz_u(x.seed, x.id, 47))::integer],
       1 + (x.uq < 0.12)::integer + (x.uq < 0.03)::integer + 5 * (x.uq < 0.005)::integer,
       pg_temp.bz_u(x.seed, x.id, 48) < 0.10,
       x.for_sale,
       CASE WHEN x.for_sale THEN round((1 + 500 * pg_temp.bz_u(x.seed, x.id, 49) ^ 3)::numeric, 2) END,
       CASE WHEN pg_temp.bz_u(x.seed, x.id, 50) < 0.03 THEN 'signed' END,
       pg_temp.bz_ago(x.age),
       pg_temp.bz_ago(x.age * x.uu)
  FROM (SELECT g AS id,
               u.user_id,
               -- which of the user's favourite collections (the first one mostly), then which
               -- collection that favourite is
               pg_temp.bz_pick(p.n_coll, pg_temp.bz_u(p.seed, u.user_id * 16 + floor(u.favourites * pg_temp.bz_u(p.seed, g, 41) ^ 2)::bigint, 42), 2) AS collection_id,
               pg_temp.bz_user_age(u.user_id, p.n_users) * pg_temp.bz_u(p.seed, g, 51) AS age,
               pg_temp.bz_u(p.seed, g, 52) AS uq,
               pg_temp.bz_u(p.seed, g, 53) < 0.05 AS for_sale,
               pg_temp.bz_u(p.seed, g, 54) AS uu,
               p.seed,
               p.orphans
          FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_orphans() AS orphans, pg_temp.bz_count(2000000, 100) AS n,
                       (SELECT max(id) FROM users) AS n_users,
                       -- released sets only (ids 1..n, the upcoming one is last)
                       (SELECT max(id) FROM collections WHERE total_cards > 0) AS n_coll
                OFFSET 0) p,
               generate_series(1, p.n) AS g,
               LATERAL (SELECT pg_temp.bz_pick(p.n_users, pg_temp.bz_u(p.seed, g, 40), 3) AS user_id) u0,
               -- how many sets the user collects: 1 to 12, a few mostly; the top 1% of users many
               LATERAL (SELECT u0.user_id,
                               1 + floor(11 * pg_temp.bz_u(p.seed, u0.user_id, 55)
                                            ^ CASE WHEN u0.user_id <= p.n_users / 100 + 1 THEN 0.5 ELSE 3 END)::integer AS favourites) u
        OFFSET 0) x
  JOIN (SELECT collection_id, min(id) AS first_id, count(*) AS n
          FROM checklist_cards
         GROUP BY collection_id) s ON s.collection_id = x.collection_id;

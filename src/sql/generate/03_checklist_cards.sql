-- The master checklists: collections.total_cards reference cards per collection, ids
-- contiguous per collection. The first 70% of a checklist are base cards (numbers 1..b),
-- the rest are parallels / variants of one of them: same number, player and team,
-- base_card_id = the base card, a variant name and usually a print run. A fraction
-- boosterz.orphans of the base_card_id values point at a checklist card that does not exist.
INSERT INTO checklist_cards (id, collection_id, card_number, player_name, team, base_card_id,
                             variant_name, print_run, is_rookie, image_url, created_at, updated_at)
SELECT id,
       collection_id,
       base_k::text,
       (ARRAY['Lucas', 'Marco', 'Kylian', 'Erling', 'Jude', 'Vinicius', 'Pedri', 'Bukayo', 'Jamal',
              'Florian', 'Rafael', 'Ousmane', 'Phil', 'Declan', 'Khvicha', 'Lamine', 'Joao', 'Federico',
              'Victor', 'Martin'])[1 + player % 20]
           || ' ' ||
       (ARRAY['Silva', 'Muller', 'Rossi', 'Garcia', 'Martin', 'Bernard', 'Dubois', 'Moreau', 'Costa',
              'Kovac', 'Novak', 'Jensen', 'Larsen', 'Fischer', 'Weber', 'Romero', 'Santos', 'Ferreira',
              'Okafor', 'Mensah', 'Diallo', 'Traore', 'Camara', 'Keller', 'Hansen'])[1 + (player / 20) % 25],
       (ARRAY['Arsenal', 'Barcelona', 'Bayern', 'Chelsea', 'Dortmund', 'Inter', 'Juventus', 'Liverpool',
              'Lyon', 'Man City', 'Man United', 'Marseille', 'Milan', 'Napoli', 'PSG', 'Porto', 'Real Madrid',
              'Roma', 'Sevilla', 'Tottenham'])[1 + (player / 500) % 20],
       CASE WHEN NOT variant THEN NULL
            WHEN pg_temp.bz_u(seed, id, 31) < orphans THEN pg_temp.bz_orphan_id(pg_temp.bz_u(seed, id, 32))
            ELSE first_id + base_k - 1 END,
       CASE WHEN variant THEN (ARRAY['Silver', 'Blue', 'Red', 'Green', 'Orange', 'Gold', 'Black'])[1 + tier] END,
       CASE WHEN variant THEN (ARRAY[NULL, 199, 99, 75, 49, 10, 1])[1 + tier] END,
       player % 10 = 0,
       'https://img.boosterz.test/checklist/' || id || '.jpg',
       created_at,
       created_at
  FROM (SELECT c.first_id + k - 1 AS id,
               c.id AS collection_id,
               c.first_id,
               c.created_at,
               k > c.bases AS variant,
               CASE WHEN k > c.bases THEN (k - c.bases - 1) % c.bases + 1 ELSE k END AS base_k,
               -- the same player on a base card and its variants (and in other sets too)
               floor(5000 * pg_temp.bz_u(p.seed, c.id * 100000 + CASE WHEN k > c.bases THEN (k - c.bases - 1) % c.bases + 1 ELSE k END, 33))::integer AS player,
               floor(7 * pg_temp.bz_u(p.seed, c.first_id + k - 1, 34) ^ 2)::integer AS tier,
               p.seed,
               p.orphans
          FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_orphans() AS orphans OFFSET 0) p,
               (SELECT id, created_at, total_cards,
                       1 + coalesce(sum(total_cards) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS first_id,
                       ceil(total_cards * 0.7)::integer AS bases
                  FROM collections) c,
               generate_series(1, c.total_cards) AS k
        OFFSET 0) x;

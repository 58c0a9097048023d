-- Collections: 200 at scale 1, with checklists of very different sizes (Pareto weights: a
-- few big sets, many small ones) adding up to about 100k checklist cards at scale 1.
-- total_cards is the checklist size that 03_checklist_cards.sql creates. Ids follow release
-- dates (about three years of sets). The newest collection is announced but not released
-- yet: empty checklist, release date after the reference time.
INSERT INTO collections (id, name, brand, season, release_year, sport, total_cards, release_date, image_url, created_at, updated_at)
SELECT g,
       brand || ' ' || line || ' ' || league || ' ' || season,
       brand,
       season,
       release_year,
       sport,
       CASE WHEN upcoming THEN 0
            ELSE greatest(1, round(n_checklist * w / sum(w) FILTER (WHERE NOT upcoming) OVER ()))::integer END,
       release_date,
       'https://img.boosterz.test/collections/' || g || '.jpg',
       least(release_date - 60, pg_temp.bz_t0()::date)::timestamptz,
       least(release_date - 30, pg_temp.bz_t0()::date)::timestamptz
  FROM (SELECT *,
               extract(year FROM release_date)::integer AS release_year,
               extract(year FROM release_date) || '-' || to_char(release_date + 365, 'YY') AS season
          FROM (SELECT g,
                       (ARRAY['Panini', 'Topps', 'Upper Deck', 'Futera', 'Leaf'])[1 + floor(5 * pg_temp.bz_u(p.seed, g, 21))::integer] AS brand,
                       (ARRAY['Prizm', 'Select', 'Chrome', 'Merlin', 'Donruss', 'Mosaic', 'Obsidian', 'Finest',
                              'Stadium Club', 'Match Attax'])[1 + floor(10 * pg_temp.bz_u(p.seed, g, 22))::integer] AS line,
                       (ARRAY['Premier League', 'LaLiga', 'Serie A', 'Bundesliga', 'Ligue 1', 'Champions League',
                              'MLS', 'World Cup'])[1 + floor(8 * pg_temp.bz_u(p.seed, g, 23))::integer] AS league,
                       CASE WHEN pg_temp.bz_u(p.seed, g, 24) < 0.9 THEN 'football' ELSE 'futsal' END AS sport,
                       g = p.n AND p.n >= 3 AS upcoming,
                       CASE WHEN g = p.n AND p.n >= 3 THEN pg_temp.bz_t0()::date + 45
                            ELSE pg_temp.bz_t0()::date - 1100 + floor(1090 * (g - 1)::numeric / p.n)::integer END AS release_date,
                       least(20, (1 - pg_temp.bz_u(p.seed, g, 25)) ^ (-1 / 1.5)) AS w,
                       p.n_checklist
                  FROM (SELECT pg_temp.bz_seed() AS seed, pg_temp.bz_count(200, 5) AS n,
                               pg_temp.bz_count(100000, 40) AS n_checklist OFFSET 0) p,
                       generate_series(1, p.n) AS g
                OFFSET 0) x
       ) y;

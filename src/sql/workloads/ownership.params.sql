-- Parameters for the ownership checklist: $2 (user_id, items) pairs. Each pick is, with
-- probability $3, one of the power users (the top 1% by number of cards), else any user with
-- cards; items are 40 checklist cards of one of the user's collections, in checklist order:
-- every third one set to 0 copies (owned ones are deleted), the others to 1 + (k % 3) copies
-- (owned ones updated, duplicates merged, the others inserted). Deterministic for a seed $1.
WITH started AS (
    SELECT c.user_id, c.collection_id, count(*) AS cards
      FROM cards c
     GROUP BY c.user_id, c.collection_id
), ranked_users AS (
    SELECT s.user_id, row_number() OVER (ORDER BY sum(s.cards) DESC, s.user_id) AS rank
      FROM started s
     GROUP BY s.user_id
), user_collections AS (
    SELECT s.user_id, s.collection_id,
           row_number() OVER (PARTITION BY s.user_id ORDER BY s.collection_id) AS i,
           count(*) OVER (PARTITION BY s.user_id) AS n
      FROM started s
), pool AS (
    SELECT count(*) AS everyone, greatest(1, ceil(count(*) / 100.0))::bigint AS power FROM ranked_users
), picks AS (
    SELECT k,
           1 + floor((hashint8extended(k, $1::bigint * 1000 + 42) & 4503599627370495)::float8 / 4503599627370496
                     * CASE WHEN (hashint8extended(k, $1::bigint * 1000 + 41) & 4503599627370495)::float8 / 4503599627370496 < $3::float8
                            THEN pool.power ELSE pool.everyone END)::bigint AS rank,
           (hashint8extended(k, $1::bigint * 1000 + 43) & 4503599627370495)::float8 / 4503599627370496 AS u
      FROM generate_series(1, $2::integer) AS k, pool
)
SELECT uc.user_id,
       (SELECT jsonb_agg(jsonb_build_object('checklist_card_id', x.id,
                                            'quantity', CASE WHEN x.n % 3 = 0 THEN 0 ELSE 1 + (x.n + pk.k) % 3 END)
                         ORDER BY x.id)
          FROM (SELECT cc.id, row_number() OVER (ORDER BY cc.id) AS n
                  FROM checklist_cards cc
                 WHERE cc.collection_id = uc.collection_id
                 ORDER BY cc.id
                 LIMIT 40) x) AS items
  FROM picks pk
  JOIN ranked_users r ON r.rank = pk.rank
  JOIN user_collections uc ON uc.user_id = r.user_id AND uc.i = 1 + floor(pk.u * uc.n)::bigint
 ORDER BY pk.k;

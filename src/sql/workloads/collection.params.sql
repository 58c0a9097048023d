-- Parameters for collection loading: $2 (user_id, collection_id) pairs where the user has
-- cards in the collection. Each pick is, with probability $3, one of the power users (the
-- top 1% by number of cards), else any user with cards; then one of that user's
-- collections. Deterministic for a seed $1 and the same data.
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
           1 + floor((hashint8extended(k, $1::bigint * 1000 + 2) & 4503599627370495)::float8 / 4503599627370496
                     * CASE WHEN (hashint8extended(k, $1::bigint * 1000 + 1) & 4503599627370495)::float8 / 4503599627370496 < $3::float8
                            THEN pool.power ELSE pool.everyone END)::bigint AS rank,
           (hashint8extended(k, $1::bigint * 1000 + 3) & 4503599627370495)::float8 / 4503599627370496 AS u
      FROM generate_series(1, $2::integer) AS k, pool
)
SELECT uc.user_id, uc.collection_id
  FROM picks pk
  JOIN ranked_users r ON r.rank = pk.rank
  JOIN user_collections uc ON uc.user_id = r.user_id AND uc.i = 1 + floor(pk.u * uc.n)::bigint
 ORDER BY pk.k;

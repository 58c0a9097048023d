-- Parameters for user stats: $2 users. Each pick is, with probability $3, one of the power
-- users (the top 1% by number of cards), else any user (with or without data).
-- Deterministic for a seed $1 and the same data.
WITH ranked_users AS (
    SELECT u.id AS user_id, row_number() OVER (ORDER BY coalesce(c.cards, 0) DESC, u.id) AS rank
      FROM users u
      LEFT JOIN (SELECT user_id, count(*) AS cards FROM cards GROUP BY user_id) c ON c.user_id = u.id
), pool AS (
    SELECT count(*) AS everyone, greatest(1, ceil(count(*) / 100.0))::bigint AS power FROM ranked_users
), picks AS (
    SELECT k,
           1 + floor((hashint8extended(k, $1::bigint * 1000 + 22) & 4503599627370495)::float8 / 4503599627370496
                     * CASE WHEN (hashint8extended(k, $1::bigint * 1000 + 21) & 4503599627370495)::float8 / 4503599627370496 < $3::float8
                            THEN pool.power ELSE pool.everyone END)::bigint AS rank
      FROM generate_series(1, $2::integer) AS k, pool
)
SELECT r.user_id
  FROM picks pk
  JOIN ranked_users r ON r.rank = pk.rank
 ORDER BY pk.k;

-- Parameters for the social feed (first page of 20): $2 users who follow someone. Each pick
-- is, with probability $3, one of the power users (the top 1% by number of people followed),
-- else any user who follows someone. Deterministic for a seed $1 and the same data.
WITH ranked_users AS (
    SELECT f.follower_id AS user_id, row_number() OVER (ORDER BY count(*) DESC, f.follower_id) AS rank
      FROM follows f
     GROUP BY f.follower_id
), pool AS (
    SELECT count(*) AS everyone, greatest(1, ceil(count(*) / 100.0))::bigint AS power FROM ranked_users
), picks AS (
    SELECT k,
           1 + floor((hashint8extended(k, $1::bigint * 1000 + 12) & 4503599627370495)::float8 / 4503599627370496
                     * CASE WHEN (hashint8extended(k, $1::bigint * 1000 + 11) & 4503599627370495)::float8 / 4503599627370496 < $3::float8
                            THEN pool.power ELSE pool.everyone END)::bigint AS rank
      FROM generate_series(1, $2::integer) AS k, pool
)
SELECT r.user_id, NULL::timestamptz AS before_created_at, NULL::bigint AS before_id, 20 AS page_size
  FROM picks pk
  JOIN ranked_users r ON r.rank = pk.rank
 ORDER BY pk.k;

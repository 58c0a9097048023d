-- Parameters for conversations (50 latest): $2 users who take part in a conversation. Each
-- pick is, with probability $3, one of the power users (the top 1% by number of
-- conversations), else any participant. Deterministic for a seed $1 and the same data.
WITH ranked_users AS (
    SELECT cp.user_id, row_number() OVER (ORDER BY count(*) DESC, cp.user_id) AS rank
      FROM conversation_participants cp
     GROUP BY cp.user_id
), pool AS (
    SELECT count(*) AS everyone, greatest(1, ceil(count(*) / 100.0))::bigint AS power FROM ranked_users
), picks AS (
    SELECT k,
           1 + floor((hashint8extended(k, $1::bigint * 1000 + 32) & 4503599627370495)::float8 / 4503599627370496
                     * CASE WHEN (hashint8extended(k, $1::bigint * 1000 + 31) & 4503599627370495)::float8 / 4503599627370496 < $3::float8
                            THEN pool.power ELSE pool.everyone END)::bigint AS rank
      FROM generate_series(1, $2::integer) AS k, pool
)
SELECT r.user_id, 50 AS page_size
  FROM picks pk
  JOIN ranked_users r ON r.rank = pk.rank
 ORDER BY pk.k;

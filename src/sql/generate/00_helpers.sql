-- Helpers for the generator, as temporary functions of this session only (pg_temp): they
-- vanish with the connection and are dropped by the last step.
--
-- Settings read (the runner sets them with set_config, never by pasting values):
--   boosterz.scale    numeric, 1 = about 9M rows
--   boosterz.seed     integer, same seed => same data
--   boosterz.orphans  fraction of checklist_card_id / base_card_id values that point at a
--                     checklist card that does not exist
--
-- Every pseudo-random value is a hash of (seed, row number, salt), never random(), so the
-- data is the same whatever the plan. All times are whole seconds before a fixed reference
-- time, so the data does not depend on when it was generated either. The functions are
-- simple SQL expressions that the planner inlines: no call overhead per row.

-- The generator runs in one transaction; JIT compiling its long per-row expressions costs
-- more than it saves.
SET LOCAL jit = off;

-- The reference time: every generated timestamp is at most this.
CREATE OR REPLACE FUNCTION pg_temp.bz_t0() RETURNS timestamptz
LANGUAGE sql IMMUTABLE
AS $$ SELECT timestamptz '2026-06-01 00:00:00+00' $$;

-- Uniform in [0, 1) from (seed, i, salt).
CREATE OR REPLACE FUNCTION pg_temp.bz_u(seed bigint, i bigint, salt integer) RETURNS double precision
LANGUAGE sql IMMUTABLE
AS $$ SELECT (hashint8extended(i, seed * 1000 + salt) & 4503599627370495)::double precision / 4503599627370496 $$;

-- An id in 1..n, skewed towards small ids by power k (k = 1 uniform, k = 3: id 1 gets
-- n^(-1/3) of all picks, e.g. 3.7% of them with n = 20000).
CREATE OR REPLACE FUNCTION pg_temp.bz_pick(n bigint, u double precision, k double precision) RETURNS bigint
LANGUAGE sql IMMUTABLE
AS $$ SELECT least(n, floor(n * (u ^ k))::bigint + 1) $$;

-- The time `secs` seconds before the reference time, to the second. (STABLE like the
-- timestamptz - interval operator, or the planner would not inline it.)
CREATE OR REPLACE FUNCTION pg_temp.bz_ago(secs double precision) RETURNS timestamptz
LANGUAGE sql STABLE
AS $$ SELECT timestamptz '2026-06-01 00:00:00+00' - floor(secs) * interval '1 second' $$;

-- How long before the reference time user `id` signed up (seconds): user 1 two years
-- before, the last one five days before. Early users are the power users.
CREATE OR REPLACE FUNCTION pg_temp.bz_user_age(id bigint, n_users bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE
AS $$ SELECT 86400 * (730 - 725 * (id - 1)::double precision / n_users) $$;

-- Row count of a table at the current scale, at least `least_n`.
CREATE OR REPLACE FUNCTION pg_temp.bz_count(base bigint, least_n bigint) RETURNS bigint
LANGUAGE sql STABLE
AS $$ SELECT greatest(least_n, round(base * current_setting('boosterz.scale')::numeric))::bigint $$;

CREATE OR REPLACE FUNCTION pg_temp.bz_seed() RETURNS bigint
LANGUAGE sql STABLE
AS $$ SELECT current_setting('boosterz.seed')::bigint $$;

CREATE OR REPLACE FUNCTION pg_temp.bz_orphans() RETURNS double precision
LANGUAGE sql STABLE
AS $$ SELECT coalesce(nullif(current_setting('boosterz.orphans', true), ''), '0.002')::double precision $$;

-- An id that no checklist card has, nor will have: far above every real one.
CREATE OR REPLACE FUNCTION pg_temp.bz_orphan_id(u double precision) RETURNS bigint
LANGUAGE sql IMMUTABLE
AS $$ SELECT 1000000000000 + floor(1000000 * u)::bigint $$;

-- Chat: how many people take part in conversation c (85% two, else a group of 3 to 6).
CREATE OR REPLACE FUNCTION pg_temp.bz_conv_size(seed bigint, c bigint) RETURNS integer
LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN pg_temp.bz_u(seed, c, 901) < 0.85 THEN 2
                  ELSE 3 + floor(4 * pg_temp.bz_u(seed, c, 902))::integer END $$;

-- Chat: the j-th member (0-based) of conversation c. Members 0 and 1 always differ; later
-- members of a group may repeat one (the duplicate is dropped on insert), so any j below
-- the size is always a participant, e.g. a message sender.
CREATE OR REPLACE FUNCTION pg_temp.bz_member(seed bigint, n_users bigint, c bigint, j integer) RETURNS bigint
LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE j
        WHEN 0 THEN pg_temp.bz_pick(n_users, pg_temp.bz_u(seed, c, 903), 2)
        WHEN 1 THEN (pg_temp.bz_pick(n_users, pg_temp.bz_u(seed, c, 903), 2)
                     + floor((n_users - 1) * (pg_temp.bz_u(seed, c, 904) ^ 2))::bigint) % n_users + 1
        ELSE pg_temp.bz_pick(n_users, pg_temp.bz_u(seed, c * 8 + j, 905), 2) END $$;

-- Chat: how long before the reference time conversation c started (seconds): after both
-- of its first two members had signed up.
CREATE OR REPLACE FUNCTION pg_temp.bz_conv_age(seed bigint, n_users bigint, c bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE
AS $$ SELECT least(pg_temp.bz_user_age(pg_temp.bz_member(seed, n_users, c, 0), n_users),
                   pg_temp.bz_user_age(pg_temp.bz_member(seed, n_users, c, 1), n_users))
             * pg_temp.bz_u(seed, c, 906) $$;

-- Social: the author of post p, and how long before the reference time it was posted
-- (after its author signed up). Likes and comments come after it.
CREATE OR REPLACE FUNCTION pg_temp.bz_post_user(seed bigint, n_users bigint, p bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE
AS $$ SELECT pg_temp.bz_pick(n_users, pg_temp.bz_u(seed, p, 907), 2) $$;

CREATE OR REPLACE FUNCTION pg_temp.bz_post_age(seed bigint, n_users bigint, p bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE
AS $$ SELECT pg_temp.bz_user_age(pg_temp.bz_post_user(seed, n_users, p), n_users) * pg_temp.bz_u(seed, p, 908) $$;

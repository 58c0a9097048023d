-- 0007_monitoring_and_maintenance: slow_queries() and the slow_queries_monitor view
-- (pg_stat_statements), the unused_indexes view, and cleanup_old_data() (retention policy).
--
-- pg_stat_statements is NOT created here: it needs shared_preload_libraries and CREATE
-- privileges, and may be absent. slow_queries() looks it up at call time (whatever schema it
-- was installed in, whichever column names its version has) and returns no rows with a
-- NOTICE when it is not installed or not loaded. Column names: total_time / mean_time /
-- max_time before 1.8 (PostgreSQL 13), *_exec_time since; blk_read_time / blk_write_time
-- became shared_blk_read_time / shared_blk_write_time in 1.11 (PostgreSQL 17).

-- Statements of the current database whose mean execution time exceeds min_mean_ms,
-- slowest mean first (ORDER BY mean_exec_time_ms DESC, queryid).
CREATE FUNCTION public.slow_queries(min_mean_ms double precision DEFAULT 100)
RETURNS TABLE (
    queryid bigint,
    username text,
    calls bigint,
    total_exec_time_ms double precision,
    mean_exec_time_ms double precision,
    max_exec_time_ms double precision,
    rows bigint,
    shared_blks_hit bigint,
    shared_blks_read bigint,
    cache_hit_pct numeric,
    blk_read_time_ms double precision,
    blk_write_time_ms double precision,
    query text
)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_schema name;
    v_view regclass;
    v_cols text[];
    v_exec text;
    v_read text;
    v_write text;
BEGIN
    SELECT n.nspname INTO v_schema
      FROM pg_extension e
      JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_stat_statements';
    v_view := CASE WHEN v_schema IS NOT NULL THEN to_regclass(format('%I.pg_stat_statements', v_schema)) END;
    IF v_view IS NULL THEN
        RAISE NOTICE 'slow_queries: the pg_stat_statements extension is not installed in database %; no rows returned', current_database()
              USING HINT = 'add pg_stat_statements to shared_preload_libraries, restart, then CREATE EXTENSION pg_stat_statements';
        RETURN;
    END IF;
    v_cols := ARRAY(SELECT a.attname::text FROM pg_attribute a
                     WHERE a.attrelid = v_view AND a.attnum > 0 AND NOT a.attisdropped);
    v_exec := CASE WHEN 'mean_exec_time' = ANY (v_cols) THEN '_exec_time' ELSE '_time' END;
    IF 'shared_blk_read_time' = ANY (v_cols) THEN
        v_read := 's.shared_blk_read_time';
        v_write := 's.shared_blk_write_time';
    ELSIF 'blk_read_time' = ANY (v_cols) THEN
        v_read := 's.blk_read_time';
        v_write := 's.blk_write_time';
    ELSE
        v_read := 'NULL::double precision';
        v_write := 'NULL::double precision';
    END IF;
    BEGIN
        RETURN QUERY EXECUTE format(
            'SELECT s.queryid, r.rolname::text, s.calls, s.%1$I, s.%2$I, s.%3$I, s.rows,
                    s.shared_blks_hit, s.shared_blks_read,
                    round(100.0 * s.shared_blks_hit / nullif(s.shared_blks_hit + s.shared_blks_read, 0), 2),
                    %4$s, %5$s, s.query
               FROM %6$s s
               LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid
              WHERE s.dbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database())
                AND s.%2$I > $1
              ORDER BY s.%2$I DESC, s.queryid',
            'total' || v_exec, 'mean' || v_exec, 'max' || v_exec, v_read, v_write, v_view)
        USING min_mean_ms;
    EXCEPTION WHEN object_not_in_prerequisite_state THEN
        RAISE NOTICE 'slow_queries: pg_stat_statements is installed but not loaded (%); no rows returned', SQLERRM
              USING HINT = 'add pg_stat_statements to shared_preload_libraries and restart the server';
    END;
END;
$$;

-- The guide's monitoring view: mean execution time above 100 ms (see slow_queries()).
CREATE VIEW public.slow_queries_monitor AS
SELECT * FROM public.slow_queries(100);

-- Indexes never scanned since the statistics were last reset, largest first. Primary-key,
-- unique, exclusion and constraint-backing indexes are left out (they enforce something),
-- and so are invalid indexes (see `boosterz-db report invalid-indexes`) and the tool's own
-- boosterz_db schema.
CREATE VIEW public.unused_indexes AS
SELECT s.schemaname,
       s.relname AS tablename,
       s.indexrelname AS indexname,
       pg_size_pretty(pg_relation_size(s.indexrelid)) AS index_size,
       s.idx_scan,
       pg_relation_size(s.indexrelid) AS index_size_bytes
  FROM pg_catalog.pg_stat_user_indexes s
  JOIN pg_catalog.pg_index i ON i.indexrelid = s.indexrelid
 WHERE s.idx_scan = 0
   AND NOT i.indisprimary
   AND NOT i.indisunique
   AND NOT i.indisexclusion
   AND i.indisvalid
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = s.indexrelid)
   AND s.schemaname <> 'boosterz_db'
 ORDER BY pg_relation_size(s.indexrelid) DESC, s.schemaname, s.relname, s.indexrelname;

-- Retention policy (see migrations/README.md):
--   notifications  read ones, p_read_notification_retention (90 days) after read_at;
--                  unread notifications are never deleted;
--   sessions       expired or revoked for longer than p_session_retention (30 days);
--   activity_log   older than p_activity_retention (180 days) by created_at.
-- Deletes by primary-key batches of p_batch_size rows (rows locked by others are skipped and
-- left for the next run), at most p_max_batches batches per table (NULL: until done).
-- A function cannot commit between batches: to keep each transaction short, call it
-- repeatedly with p_max_batches => 1 in autocommit until every count is 0.
-- p_dry_run: deletes nothing and returns how many rows the policy would delete now.
-- Returns one row per table: notifications, sessions, activity_log.
CREATE FUNCTION public.cleanup_old_data(
    p_batch_size integer DEFAULT 5000,
    p_max_batches integer DEFAULT NULL,
    p_read_notification_retention interval DEFAULT '90 days',
    p_session_retention interval DEFAULT '30 days',
    p_activity_retention interval DEFAULT '180 days',
    p_dry_run boolean DEFAULT false
) RETURNS TABLE (table_name text, rows_deleted bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_now constant timestamptz := now();
    v_table text;
    v_where text;
    v_cutoff timestamptz;
    v_rows bigint;
    v_total bigint;
    v_batches integer;
BEGIN
    IF p_batch_size IS NULL OR p_batch_size < 1 THEN
        RAISE EXCEPTION 'cleanup_old_data: p_batch_size must be >= 1' USING ERRCODE = '22023';
    END IF;
    IF p_max_batches IS NOT NULL AND p_max_batches < 1 THEN
        RAISE EXCEPTION 'cleanup_old_data: p_max_batches must be >= 1 or NULL' USING ERRCODE = '22023';
    END IF;
    IF p_read_notification_retention IS NULL OR p_session_retention IS NULL OR p_activity_retention IS NULL THEN
        RAISE EXCEPTION 'cleanup_old_data: retention intervals must not be NULL' USING ERRCODE = '22023';
    END IF;

    -- The policy, written once: the dry run counts and the batches delete exactly these rows.
    -- Table names and predicates are constants of this function; the cutoff is bound as $1.
    FOR v_table, v_where, v_cutoff IN
        VALUES ('notifications', 'x.read_at < $1', v_now - p_read_notification_retention),
               ('sessions', 'x.expires_at < $1 OR x.revoked_at < $1', v_now - p_session_retention),
               ('activity_log', 'x.created_at < $1', v_now - p_activity_retention)
    LOOP
        table_name := v_table;
        IF coalesce(p_dry_run, false) THEN
            EXECUTE format('SELECT count(*) FROM %I x WHERE %s', v_table, v_where) INTO rows_deleted USING v_cutoff;
            RETURN NEXT;
            CONTINUE;
        END IF;
        v_total := 0;
        v_batches := 0;
        LOOP
            EXIT WHEN p_max_batches IS NOT NULL AND v_batches >= p_max_batches;
            EXECUTE format('DELETE FROM %I t WHERE t.id IN (SELECT x.id FROM %I x WHERE %s LIMIT $2 FOR UPDATE SKIP LOCKED)',
                           v_table, v_table, v_where)
              USING v_cutoff, p_batch_size;
            GET DIAGNOSTICS v_rows = ROW_COUNT;
            v_total := v_total + v_rows;
            v_batches := v_batches + 1;
            EXIT WHEN v_rows < p_batch_size;
        END LOOP;
        rows_deleted := v_total;
        RETURN NEXT;
    END LOOP;
END;
$$;

-- The monitoring role (a member of pg_monitor, as the guide's monitoring runs) reads the two
-- monitoring views; slow_queries() is executable by PUBLIC, as every function by default.
GRANT SELECT ON public.slow_queries_monitor, public.unused_indexes TO pg_monitor;

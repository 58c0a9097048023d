import type { Sql } from '../../db/connection.js';
import { BoosterzError, ExitCode, sqlState } from '../../errors.js';
import { quoteIdent } from '../../db/sql.js';

export interface SlowQuery {
  queryid: string | null;
  /** Normalised text (constants as $1…); `<insufficient privilege>` for other roles' statements without pg_read_all_stats. */
  query: string;
  calls: number;
  total_ms: number;
  mean_ms: number;
  rows_per_call: number;
  /** Shared-buffer hit ratio in %, null when no block was touched. */
  hit_pct: number | null;
  /** Mean planning time when pg_stat_statements.track_planning is on, else null. */
  mean_plan_ms: number | null;
  mean_exec_ms: number;
}

export interface SlowQueryOptions {
  minMeanMs?: number;
  minCalls?: number;
  limit?: number;
  sort?: 'total' | 'mean' | 'calls';
  /** Also count every statement (of at least minCalls calls) whose mean is above this, whatever the other filters. */
  failMeanMs?: number;
}

export interface SlowQueryReport {
  track_planning: boolean;
  queries: SlowQuery[];
  /** Statements of other roles whose text this role may not see (needs pg_read_all_stats). */
  hidden: number;
  /** With failMeanMs: how many statements are above it, and the highest mean among them. */
  over?: { count: number; max_mean_ms: number | null };
}

const HOW_TO =
  'add pg_stat_statements to shared_preload_libraries in postgresql.conf, restart PostgreSQL, then run CREATE EXTENSION pg_stat_statements in this database';

/**
 * The slowest statements of the current database from pg_stat_statements, with the column
 * names of the server's version (total_time on ≤ 12, total_exec_time/total_plan_time on 13+).
 * Missing extension or library: a BoosterzError (exit 1) that says how to enable it.
 */
export async function slowQueries(sql: Sql, o: SlowQueryOptions = {}): Promise<SlowQueryReport> {
  // pg_settings hides shared_preload_libraries from roles without pg_read_all_settings
  // (current_setting() would raise): null then, and the 55000 below still tells.
  const [ext] = await sql<{ schema: string | null; preloaded: boolean | null }[]>`
    select (select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_stat_statements') as schema,
           (select 'pg_stat_statements' = any(string_to_array(replace(s.setting, ' ', ''), ',')) from pg_settings s where s.name = 'shared_preload_libraries') as preloaded`;
  if (!ext.schema) {
    throw new BoosterzError(
      `pg_stat_statements is not installed in this database: ${ext.preloaded ? 'run CREATE EXTENSION pg_stat_statements' : HOW_TO}`,
      ExitCode.checkFailed,
    );
  }
  const view = `${quoteIdent(ext.schema)}.pg_stat_statements`;
  const cols = new Set(
    (
      await sql<{ attname: string }[]>`
    select attname from pg_attribute where attrelid = to_regclass(${view}) and attnum > 0 and not attisdropped`
    ).map((r) => r.attname),
  );
  const exec = cols.has('total_exec_time') ? 'exec_time' : 'time';
  const plan = cols.has('total_plan_time') ? 's.total_plan_time / nullif(s.calls, 0)' : 'null::float8';
  const order = { total: `s.total_${exec}`, mean: `s.mean_${exec}`, calls: 's.calls' }[o.sort ?? 'total'];
  const here = 's.dbid = (select oid from pg_database where datname = current_database())';
  const text = `
    select s.queryid::text as queryid, s.query, s.calls::float8 as calls,
           s.total_${exec}::float8 as total_ms, s.mean_${exec}::float8 as mean_ms, s.mean_${exec}::float8 as mean_exec_ms,
           (s.rows::float8 / nullif(s.calls, 0))::float8 as rows_per_call,
           (100.0 * s.shared_blks_hit / nullif(s.shared_blks_hit + s.shared_blks_read, 0))::float8 as hit_pct,
           (${plan})::float8 as mean_plan_ms
      from ${view} s
     where ${here} and s.mean_${exec} >= $1 and s.calls >= $2
     order by ${order} desc, s.queryid
     limit $3`;
  try {
    const queries = await sql.unsafe<SlowQuery[]>(text, [o.minMeanMs ?? 100, o.minCalls ?? 1, o.limit ?? 10]);
    const [tp] = await sql<
      { on: boolean }[]
    >`select coalesce(current_setting('pg_stat_statements.track_planning', true), 'off') = 'on' as on`;
    let over: SlowQueryReport['over'];
    if (o.failMeanMs !== undefined) {
      const [r] = await sql.unsafe<{ count: number; max_mean_ms: number | null }[]>(
        `
        select count(*)::int as count, max(s.mean_${exec})::float8 as max_mean_ms
          from ${view} s where ${here} and s.mean_${exec} > $1 and s.calls >= $2`,
        [o.failMeanMs, o.minCalls ?? 1],
      );
      over = r!;
    }
    return {
      track_planning: tp.on,
      queries: queries.map((q) => ({ ...q, mean_plan_ms: tp.on ? q.mean_plan_ms : null })),
      hidden: queries.filter((q) => q.query === '<insufficient privilege>').length,
      ...(over ? { over } : {}),
    };
  } catch (err) {
    if (sqlState(err) === '55000')
      throw new BoosterzError(`pg_stat_statements is installed but not loaded: ${HOW_TO}`, ExitCode.checkFailed);
    if (sqlState(err) === '42501')
      throw new BoosterzError(
        `cannot read ${view}: ${(err as Error).message} (GRANT SELECT ON ${view} TO the role, or GRANT pg_read_all_stats)`,
        ExitCode.checkFailed,
        [],
        {},
        { cause: err },
      );
    throw err;
  }
}

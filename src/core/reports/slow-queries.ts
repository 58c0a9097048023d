import type { Sql } from '../../db/connection.js';
import { BoosterzError, ExitCode, sqlState } from '../errors.js';
import { quoteIdent } from '../runner.js';

export interface SlowQuery {
  queryid: string;
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
}

const HOW_TO = 'add pg_stat_statements to shared_preload_libraries in postgresql.conf, restart PostgreSQL, then run CREATE EXTENSION pg_stat_statements in this database';

/**
 * The slowest statements of the current database from pg_stat_statements, with the column
 * names of the server's version (total_time on ≤ 12, total_exec_time/total_plan_time on 13+).
 * Missing extension or library: a BoosterzError (exit 1) that says how to enable it.
 */
export async function slowQueries(sql: Sql, o: SlowQueryOptions = {}): Promise<{ track_planning: boolean; queries: SlowQuery[] }> {
  const [ext] = await sql<{ schema: string | null; preloaded: boolean }[]>`
    select (select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_stat_statements') as schema,
           'pg_stat_statements' = any(string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) as preloaded`;
  if (!ext!.schema) {
    throw new BoosterzError(`pg_stat_statements is not installed in this database: ${ext!.preloaded ? 'run CREATE EXTENSION pg_stat_statements' : HOW_TO}`, ExitCode.checkFailed);
  }
  const view = `${quoteIdent(ext!.schema)}.pg_stat_statements`;
  const cols = new Set((await sql<{ attname: string }[]>`
    select attname from pg_attribute where attrelid = to_regclass(${view}) and attnum > 0 and not attisdropped`).map((r) => r.attname));
  const exec = cols.has('total_exec_time') ? 'exec_time' : 'time';
  const plan = cols.has('total_plan_time') ? 's.total_plan_time / nullif(s.calls, 0)' : 'null::float8';
  const order = { total: `s.total_${exec}`, mean: `s.mean_${exec}`, calls: 's.calls' }[o.sort ?? 'total'];
  const text = `
    select s.queryid::text as queryid, s.query, s.calls::float8 as calls,
           s.total_${exec}::float8 as total_ms, s.mean_${exec}::float8 as mean_ms, s.mean_${exec}::float8 as mean_exec_ms,
           (s.rows::float8 / nullif(s.calls, 0))::float8 as rows_per_call,
           (100.0 * s.shared_blks_hit / nullif(s.shared_blks_hit + s.shared_blks_read, 0))::float8 as hit_pct,
           (${plan})::float8 as mean_plan_ms
      from ${view} s
     where s.dbid = (select oid from pg_database where datname = current_database())
       and s.mean_${exec} >= $1 and s.calls >= $2
     order by ${order} desc, s.queryid
     limit $3`;
  try {
    const queries = await sql.unsafe<SlowQuery[]>(text, [o.minMeanMs ?? 100, o.minCalls ?? 1, o.limit ?? 10]);
    const [tp] = await sql<{ on: boolean }[]>`select coalesce(current_setting('pg_stat_statements.track_planning', true), 'off') = 'on' as on`;
    return { track_planning: tp!.on, queries: queries.map((q) => ({ ...q, mean_plan_ms: tp!.on ? q.mean_plan_ms : null })) };
  } catch (err) {
    if (sqlState(err) === '55000') throw new BoosterzError(`pg_stat_statements is installed but not loaded: ${HOW_TO}`, ExitCode.checkFailed);
    throw err;
  }
}

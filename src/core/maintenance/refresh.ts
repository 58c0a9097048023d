import type { Sql } from '../../db/connection.js';
import { withReserved } from '../../db/connection.js';
import { BoosterzError, ExitCode, sqlState, usageError } from '../errors.js';

export interface MatView {
  schema: string;
  name: string;
  populated: boolean;
  /** Has a valid unique index on plain columns without predicate: REFRESH … CONCURRENTLY can use it. */
  uniqueIndex: boolean;
  stale: boolean;
}

export interface ViewRefresh {
  view: string;
  mode: 'concurrently' | 'plain';
  /** Why a plain refresh was used. */
  reason?: string;
  wasStale: boolean;
  durationMs: number;
  rows: number;
}

export interface RefreshOptions {
  /** Named views (checked against pg_matviews); none = the stale ones. */
  views?: string[];
  all?: boolean;
  /** false: never CONCURRENTLY. */
  concurrently?: boolean;
  lockTimeoutMs?: number;
  statementTimeoutMs?: number;
  signal?: AbortSignal;
  onView?: (r: ViewRefresh) => void;
  onWarning?: (message: string) => void;
}

/** Table where the freshness triggers mark views stale (created by the migrations). */
const MARKS = 'materialized_view_stale_marks';

/** Materialized views of the application schemas, with what REFRESH CONCURRENTLY needs and their stale marks. */
export async function listMatViews(sql: Sql): Promise<MatView[]> {
  const [marks] = await sql<{ ok: boolean }[]>`select to_regclass(${MARKS}) is not null as ok`;
  const stale = new Set(marks!.ok ? (await sql<{ v: string }[]>`select distinct view_name as v from ${sql(MARKS)}`).map((r) => r.v) : []);
  const views = await sql<Omit<MatView, 'stale'>[]>`
    select m.schemaname as schema, m.matviewname as name, m.ispopulated as populated,
           exists (select 1 from pg_index i where i.indrelid = format('%I.%I', m.schemaname, m.matviewname)::regclass
                    and i.indisunique and i.indisvalid and i.indpred is null and i.indexprs is null) as "uniqueIndex"
      from pg_matviews m
     where m.schemaname not in ('pg_catalog', 'information_schema', 'boosterz_db')
     order by 1, 2`;
  return views.map((v) => ({ ...v, stale: stale.has(v.name) || stale.has(`${v.schema}.${v.name}`) }));
}

function pick(all: MatView[], o: RefreshOptions): MatView[] {
  if (o.views?.length) {
    const unknown = o.views.filter((n) => !all.some((v) => v.name === n || `${v.schema}.${v.name}` === n));
    if (unknown.length) {
      throw usageError(`unknown materialized view(s): ${unknown.join(', ')} (known: ${all.map((v) => v.name).join(', ') || 'none'})`);
    }
    return all.filter((v) => o.views!.includes(v.name) || o.views!.includes(`${v.schema}.${v.name}`));
  }
  return o.all ? all : all.filter((v) => v.stale);
}

/**
 * Refreshes the stale materialized views (all with `all`, or the named ones), each in its
 * own short transaction: clears its stale marks, refreshes CONCURRENTLY when the view is
 * populated and has a usable unique index (else plainly, with a warning), counts its rows.
 */
export async function refreshViews(sql: Sql, o: RefreshOptions = {}): Promise<{ refreshed: ViewRefresh[]; views: MatView[] }> {
  const all = await listMatViews(sql);
  const chosen = pick(all, o);
  const refreshed: ViewRefresh[] = [];
  const [marks] = await sql<{ ok: boolean }[]>`select to_regclass(${MARKS}) is not null as ok`;
  await withReserved(sql, async (conn) => {
    for (const v of chosen) {
      if (o.signal?.aborted) break;
      let mode: ViewRefresh['mode'] = 'concurrently';
      let reason: string | undefined;
      if (o.concurrently === false) { mode = 'plain'; reason = '--no-concurrently'; }
      else if (!v.populated) { mode = 'plain'; reason = 'not populated yet (first fill): a plain refresh locks the view for readers'; }
      else if (!v.uniqueIndex) { mode = 'plain'; reason = 'no usable unique index for CONCURRENTLY: a plain refresh locks the view for readers'; }
      if (reason && o.concurrently !== false) o.onWarning?.(`${v.schema}.${v.name}: ${reason}`);
      const t0 = performance.now();
      await conn.unsafe('begin');
      try {
        await conn`select set_config('lock_timeout', ${`${o.lockTimeoutMs ?? 5000}ms`}, true), set_config('statement_timeout', ${`${o.statementTimeoutMs ?? 0}ms`}, true)`;
        if (marks!.ok) await conn`delete from ${conn(MARKS)} where view_name in (${v.name}, ${`${v.schema}.${v.name}`})`;
        const q = mode === 'concurrently'
          ? conn`refresh materialized view concurrently ${conn(v.schema)}.${conn(v.name)}`
          : conn`refresh materialized view ${conn(v.schema)}.${conn(v.name)}`;
        const cancel = () => void q.cancel();
        o.signal?.addEventListener('abort', cancel, { once: true });
        try {
          await q;
        } finally {
          o.signal?.removeEventListener('abort', cancel);
        }
        const [c] = await conn<{ n: string }[]>`select count(*)::text as n from ${conn(v.schema)}.${conn(v.name)}`;
        await conn.unsafe('commit');
        const r: ViewRefresh = { view: `${v.schema}.${v.name}`, mode, reason, wasStale: v.stale, durationMs: performance.now() - t0, rows: Number(c!.n) };
        refreshed.push(r);
        o.onView?.(r);
      } catch (err) {
        await conn.unsafe('rollback').catch(() => undefined);
        if (o.signal?.aborted) throw new BoosterzError(`interrupted while refreshing ${v.schema}.${v.name}: it keeps its previous contents and stays marked stale`, ExitCode.interrupted);
        throw new BoosterzError(`refresh of ${v.schema}.${v.name} failed: ${sqlState(err) ? `[${sqlState(err)}] ` : ''}${(err as Error).message}`, ExitCode.statementFailed, [
          sqlState(err) === '55P03' ? 'a lock was busy: retry later or raise --lock-timeout' : 'the view keeps its previous contents and stays marked stale',
        ]);
      }
    }
  });
  return { refreshed, views: all };
}

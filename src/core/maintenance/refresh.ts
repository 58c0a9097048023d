import type { ReservedSql, Sql } from '../../db/connection.js';
import { BoosterzError, ExitCode, isConnectionLoss, refusedError, sqlState, usageError } from '../../errors.js';
import { TOOL_SCHEMA } from '../../db/sql.js';

/** One database session (a reserved connection or a one-connection client): the job's, holding its lock. */
type Db = Sql | ReservedSql;

export interface MatView {
  schema: string;
  name: string;
  owner: string;
  populated: boolean;
  /** Has a valid unique index on plain columns without predicate: REFRESH … CONCURRENTLY can use it. */
  uniqueIndex: boolean;
  /** The current role owns it (or holds MAINTAIN on it, PostgreSQL 17+): it may refresh it. */
  canRefresh: boolean;
  /** The current role may read it (to count its rows). */
  canSelect: boolean;
  stale: boolean;
}

export interface ViewRefresh {
  view: string;
  mode: 'concurrently' | 'plain';
  /** Why a plain refresh was used. */
  reason?: string;
  wasStale: boolean;
  durationMs: number;
  /** Rows after the refresh; null when the role may refresh the view but not read it (MAINTAIN without SELECT). */
  rows: number | null;
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
  /** Called before each view's refresh (e.g. to wait for lagging standbys); returns early when the signal fires. */
  beforeRefresh?: (what: string, signal?: AbortSignal) => Promise<void>;
}

/** Table where the freshness triggers mark views stale (created by the migrations). */
const MARKS = 'materialized_view_stale_marks';

interface Marks {
  exists: boolean;
  /** SELECT and DELETE on the marks table: needed to read and clear them. */
  usable: boolean;
  user: string;
  /** 0008: writers rely on pending marks, so a refresh waits for the running transactions after clearing them. */
  waits: boolean;
}

async function marksTable(sql: Db): Promise<Marks> {
  const [m] = await sql<Marks[]>`
    select to_regclass(${MARKS}) is not null as exists, current_user as user,
           to_regprocedure('public.wait_for_running_transactions()') is not null as waits,
           coalesce(has_table_privilege(to_regclass(${MARKS}), 'SELECT') and has_table_privilege(to_regclass(${MARKS}), 'DELETE'), false) as usable`;
  return m;
}

/** Materialized views of the application schemas, with what REFRESH CONCURRENTLY needs and their stale marks. */
export async function listMatViews(sql: Db, marks?: Marks): Promise<MatView[]> {
  marks ??= await marksTable(sql);
  const stale = new Set(
    marks.exists && marks.usable ? (await sql<{ v: string }[]>`select distinct view_name as v from ${sql(MARKS)}`).map((r) => r.v) : [],
  );
  const [ver] = await sql<{ v: number }[]>`select current_setting('server_version_num')::int as v`;
  // MAINTAIN (PostgreSQL 17+) lets a non-owner refresh; the privilege name is unknown before
  const maintain = ver.v >= 170000 ? sql`has_table_privilege(c.oid, 'MAINTAIN')` : sql`false`;
  const views = await sql<Omit<MatView, 'stale'>[]>`
    select n.nspname as schema, c.relname as name, pg_get_userbyid(c.relowner) as owner, c.relispopulated as populated,
           exists (select 1 from pg_index i where i.indrelid = c.oid
                    and i.indisunique and i.indisvalid and i.indpred is null and i.indexprs is null) as "uniqueIndex",
           pg_has_role(current_user, c.relowner, 'USAGE') or ${maintain} as "canRefresh",
           has_table_privilege(c.oid, 'SELECT') as "canSelect"
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind = 'm' and n.nspname not in ('pg_catalog', 'information_schema', ${TOOL_SCHEMA})
     order by 1, 2`;
  return views.map((x) => ({ ...x, stale: stale.has(x.name) || stale.has(`${x.schema}.${x.name}`) }));
}

/** Runs a query, cancelling it when the signal fires. */
async function cancellable(q: { cancel(): unknown } & PromiseLike<unknown>, signal?: AbortSignal): Promise<void> {
  const cancel = () => void q.cancel();
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    await q;
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
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
 * Every statement runs on `conn`, one session (the one holding the job's lock, see
 * withJobLock): if it ends, the refresh stops at once.
 */
export async function refreshViews(conn: Db, o: RefreshOptions = {}): Promise<{ refreshed: ViewRefresh[]; views: MatView[] }> {
  const marks = await marksTable(conn);
  if (marks.exists && !marks.usable) {
    throw refusedError(`${marks.user} may not read and clear the stale marks in ${MARKS}: nothing was refreshed`, [
      `GRANT SELECT, DELETE ON ${MARKS} TO ${marks.user}, or run as the owner of the materialized views`,
    ]);
  }
  const all = await listMatViews(conn, marks);
  const chosen = pick(all, o);
  const denied = chosen.filter((v) => !v.canRefresh);
  if (denied.length) {
    throw refusedError(
      `${marks.user} may not refresh ${denied.map((v) => `${v.schema}.${v.name}`).join(', ')}: only the owner can (or a role with MAINTAIN, PostgreSQL 17+); nothing was refreshed`,
      [
        `run as ${[...new Set(denied.map((v) => v.owner))].join(' / ')}, or on PostgreSQL 17+: GRANT MAINTAIN ON ${denied.map((v) => `${v.schema}.${v.name}`).join(', ')} TO ${marks.user}`,
      ],
    );
  }
  const refreshed: ViewRefresh[] = [];
  for (const v of chosen) {
    await o.beforeRefresh?.(`the refresh of ${v.schema}.${v.name}`, o.signal);
    if (o.signal?.aborted) break;
    let mode: ViewRefresh['mode'] = 'concurrently';
    let reason: string | undefined;
    if (o.concurrently === false) {
      mode = 'plain';
      reason = '--no-concurrently';
    } else if (!v.populated) {
      mode = 'plain';
      reason = 'not populated yet (first fill): a plain refresh locks the view for readers';
    } else if (!v.uniqueIndex) {
      mode = 'plain';
      reason = 'no usable unique index for CONCURRENTLY: a plain refresh locks the view for readers';
    }
    if (reason && o.concurrently !== false) o.onWarning?.(`${v.schema}.${v.name}: ${reason}`);
    const t0 = performance.now();
    // READ COMMITTED: the refresh must see every writer that committed while the DELETE of
    // the marks waited for it (see migrations/README.md, 0005)
    await conn.unsafe('begin isolation level read committed');
    try {
      await conn`select set_config('lock_timeout', ${`${o.lockTimeoutMs ?? 5000}ms`}, true),
                        set_config('statement_timeout', ${`${o.statementTimeoutMs ?? 0}ms`}, true)`;
      if (marks.exists) await conn`delete from ${conn(MARKS)} where view_name in (${v.name}, ${`${v.schema}.${v.name}`})`;
      // a writer still running may have relied on a mark just deleted: the refresh must include it
      if (marks.exists && marks.waits) await cancellable(conn`select public.wait_for_running_transactions()`, o.signal);
      await cancellable(
        mode === 'concurrently'
          ? conn`refresh materialized view concurrently ${conn(v.schema)}.${conn(v.name)}`
          : conn`refresh materialized view ${conn(v.schema)}.${conn(v.name)}`,
        o.signal,
      );
      const durationMs = performance.now() - t0;
      const [c] = v.canSelect ? await conn<{ n: string }[]>`select count(*)::text as n from ${conn(v.schema)}.${conn(v.name)}` : [];
      await conn.unsafe('commit');
      const r: ViewRefresh = { view: `${v.schema}.${v.name}`, mode, reason, wasStale: v.stale, durationMs, rows: c ? Number(c.n) : null };
      refreshed.push(r);
      o.onView?.(r);
    } catch (err) {
      const lost = isConnectionLoss(err);
      if (!lost) await conn.unsafe('rollback').catch(() => undefined);
      const view = `${v.schema}.${v.name}`;
      if (o.signal?.aborted)
        throw new BoosterzError(
          `interrupted while refreshing ${view}: it keeps its previous contents and stays marked stale`,
          ExitCode.interrupted,
        );
      throw new BoosterzError(
        `refresh of ${view} failed: ${sqlState(err) ? `[${sqlState(err)}] ` : ''}${(err as Error).message}`,
        ExitCode.statementFailed,
        [
          sqlState(err) === '55P03'
            ? 'a lock was busy: retry later or raise --lock-timeout'
            : 'the view keeps its previous contents and stays marked stale',
        ],
        { lostConnection: lost },
      );
    }
  }
  return { refreshed, views: all };
}

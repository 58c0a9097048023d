import type { ReservedSql, Sql } from '../../db/connection.js';
import { BoosterzError, ExitCode, isConnectionLoss, refusedError, sqlState } from '../../errors.js';

export interface CleanupOptions {
  dryRun?: boolean;
  /** Rows per table per batch (default 5000). */
  batchSize?: number;
  /** Start no new batch after this long (ms); the first batch always runs. */
  maxRuntimeMs?: number;
  signal?: AbortSignal;
  onBatch?: (b: { batch: number; deleted: Record<string, number> }) => void;
  /** Called before each batch (e.g. to wait for lagging standbys); returns early when the signal fires. */
  beforeBatch?: (what: string, signal?: AbortSignal) => Promise<void>;
}

export interface CleanupResult {
  dryRun: boolean;
  /** Rows deleted (or, dry run, to delete) per table, every table of the policy included. */
  tables: Record<string, number>;
  batches: number;
  durationMs: number;
  /** done: nothing left; max-runtime / interrupted: stopped early, the next run continues. */
  stoppedBy: 'done' | 'max-runtime' | 'interrupted';
}

/** The tables of the retention policy, in the order cleanup_old_data() reports them. */
export const POLICY_TABLES = ['notifications', 'sessions', 'activity_log'] as const;

/** Checks, before anything runs, that the function exists and the role may do what it does. */
async function preflight(sql: Sql | ReservedSql, dryRun: boolean): Promise<void> {
  const [fn] = await sql<{ ok: boolean; exec: boolean; user: string }[]>`
    select p is not null as ok, current_user as user, p is not null and has_function_privilege(p, 'EXECUTE') as exec
      from to_regprocedure('cleanup_old_data(integer,integer,interval,interval,interval,boolean)') as f(p)`;
  if (!fn.ok) throw refusedError('cleanup_old_data() is not in this database: apply the migrations first (`boosterz-db migrate`)');
  if (!fn.exec)
    throw refusedError(`${fn.user} may not execute cleanup_old_data(): GRANT EXECUTE ON FUNCTION cleanup_old_data TO ${fn.user}`);
  // the batches select … FOR UPDATE SKIP LOCKED (needs UPDATE) and DELETE; a dry run only counts
  const needed = dryRun ? ['SELECT'] : ['SELECT', 'UPDATE', 'DELETE'];
  const rows = await sql<{ t: string; missing: string[] }[]>`
    select t, array(select p from unnest(${needed}::text[]) p where not has_table_privilege(to_regclass(t), p)) as missing
      from unnest(${[...POLICY_TABLES]}::text[]) t where to_regclass(t) is not null`;
  const denied = rows.filter((r) => r.missing.length);
  if (denied.length) {
    const byPrivileges = new Map<string, string[]>();
    for (const d of denied) byPrivileges.set(d.missing.join(', '), [...(byPrivileges.get(d.missing.join(', ')) ?? []), d.t]);
    throw refusedError(
      `${fn.user} lacks ${[...byPrivileges].map(([p, ts]) => `${p} on ${ts.join(', ')}`).join('; ')}: nothing was ${dryRun ? 'counted' : 'deleted'}`,
      [`GRANT ${needed.join(', ')} ON ${denied.map((d) => d.t).join(', ')} TO ${fn.user}`],
    );
  }
}

/**
 * Applies the retention policy of cleanup_old_data() (see migrations/README.md) in short
 * transactions: each round is one call deleting at most one primary-key batch per table,
 * committed on its own, so no lock is held long. Dry run: counts only, deletes nothing.
 * Give it one session (the one holding the cleanup lock, see withJobLock): every statement
 * runs there, so if that session ends the cleanup stops with it.
 */
export async function cleanup(sql: Sql | ReservedSql, o: CleanupOptions = {}): Promise<CleanupResult> {
  await preflight(sql, !!o.dryRun);
  const t0 = performance.now();
  const batchSize = o.batchSize ?? 5000;
  const tables: Record<string, number> = Object.fromEntries(POLICY_TABLES.map((t) => [t, 0]));
  const failed = (what: string, err: unknown, details: string[]) =>
    new BoosterzError(
      `${what} failed: ${sqlState(err) ? `[${sqlState(err)}] ` : ''}${(err as Error).message}`,
      ExitCode.statementFailed,
      details,
      {
        lostConnection: isConnectionLoss(err),
      },
      { cause: err },
    );
  if (o.dryRun) {
    try {
      const rows = await sql<
        { table_name: string; rows_deleted: string }[]
      >`select table_name, rows_deleted::text from cleanup_old_data(p_dry_run => true)`;
      for (const r of rows) tables[r.table_name] = Number(r.rows_deleted);
    } catch (err) {
      throw failed('cleanup dry run', err, ['nothing was deleted']);
    }
    return { dryRun: true, tables, batches: 0, durationMs: performance.now() - t0, stoppedBy: 'done' };
  }
  let batches = 0;
  const result = (stoppedBy: CleanupResult['stoppedBy']): CleanupResult => ({
    dryRun: false,
    tables,
    batches,
    durationMs: performance.now() - t0,
    stoppedBy,
  });
  for (;;) {
    await o.beforeBatch?.(`cleanup batch ${batches + 1}`, o.signal);
    if (o.signal?.aborted) return result('interrupted');
    let rows: { table_name: string; rows_deleted: string }[];
    try {
      rows = await sql<{ table_name: string; rows_deleted: string }[]>`
        select table_name, rows_deleted::text from cleanup_old_data(p_batch_size => ${batchSize}::int, p_max_batches => 1)`;
    } catch (err) {
      throw failed(`cleanup batch ${batches + 1}`, err, ['batches already committed stay deleted; rerun to continue']);
    }
    batches++;
    const deleted: Record<string, number> = {};
    let full = false;
    for (const r of rows) {
      const n = Number(r.rows_deleted);
      deleted[r.table_name] = n;
      tables[r.table_name] = (tables[r.table_name] ?? 0) + n;
      if (n >= batchSize) full = true;
    }
    o.onBatch?.({ batch: batches, deleted });
    if (!full) return result('done');
    if (o.maxRuntimeMs !== undefined && performance.now() - t0 >= o.maxRuntimeMs) return result('max-runtime');
  }
}

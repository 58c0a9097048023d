import type { Sql } from '../../db/connection.js';
import { BoosterzError, ExitCode, refusedError } from '../errors.js';

export interface CleanupOptions {
  dryRun?: boolean;
  /** Rows per table per batch (default 5000). */
  batchSize?: number;
  /** Stop starting new batches after this long (ms). */
  maxRuntimeMs?: number;
  signal?: AbortSignal;
  onBatch?: (b: { batch: number; deleted: Record<string, number> }) => void;
}

export interface CleanupResult {
  dryRun: boolean;
  /** Rows deleted (or, dry run, to delete) per table. */
  tables: Record<string, number>;
  batches: number;
  durationMs: number;
  /** done: nothing left; max-runtime / interrupted: stopped early, the next run continues. */
  stoppedBy: 'done' | 'max-runtime' | 'interrupted';
}

/**
 * Applies the retention policy of cleanup_old_data() (see README "Retention policy") in
 * short transactions: each round is one call deleting at most one primary-key batch per
 * table, committed on its own, so no lock is held long. Dry run: counts only.
 */
export async function cleanup(sql: Sql, o: CleanupOptions = {}): Promise<CleanupResult> {
  const [fn] = await sql<{ ok: boolean }[]>`select to_regprocedure('cleanup_old_data(integer,integer,interval,interval,interval,boolean)') is not null as ok`;
  if (!fn!.ok) throw refusedError('cleanup_old_data() is not in this database: apply the migrations first (`boosterz-db migrate`)');
  const t0 = performance.now();
  const batchSize = o.batchSize ?? 5000;
  if (o.dryRun) {
    const rows = await sql<{ table_name: string; rows_deleted: string }[]>`select table_name, rows_deleted::text from cleanup_old_data(p_dry_run => true)`;
    return { dryRun: true, tables: Object.fromEntries(rows.map((r) => [r.table_name, Number(r.rows_deleted)])), batches: 0, durationMs: performance.now() - t0, stoppedBy: 'done' };
  }
  const tables: Record<string, number> = {};
  let batches = 0;
  for (;;) {
    if (o.signal?.aborted) return { dryRun: false, tables, batches, durationMs: performance.now() - t0, stoppedBy: 'interrupted' };
    if (o.maxRuntimeMs !== undefined && performance.now() - t0 >= o.maxRuntimeMs) return { dryRun: false, tables, batches, durationMs: performance.now() - t0, stoppedBy: 'max-runtime' };
    let rows: { table_name: string; rows_deleted: string }[];
    try {
      rows = await sql<{ table_name: string; rows_deleted: string }[]>`
        select table_name, rows_deleted::text from cleanup_old_data(p_batch_size => ${batchSize}::int, p_max_batches => 1)`;
    } catch (err) {
      throw new BoosterzError(`cleanup batch ${batches + 1} failed: ${(err as Error).message}`, ExitCode.statementFailed, ['batches already committed stay deleted; rerun to continue']);
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
    if (!full) return { dryRun: false, tables, batches, durationMs: performance.now() - t0, stoppedBy: 'done' };
  }
}

import type { ReservedSql, Sql } from '../../db/connection.js';
import { interruptedError } from '../../errors.js';
import type { Emit } from './events.js';
import type { Estimator } from './estimator.js';
import type { ProgressMonitor } from './monitor.js';
import type { Script, Statement, StatementRef } from './types.js';

/** How statements that take strong locks behave (see README "Lock discipline"). */
export interface LockPolicy {
  /** lock_timeout for statements that take strong locks (ms, default 2000). */
  lockTimeoutMs?: number;
  /** Retries after a lock timeout (55P03), with exponential backoff and jitter (default 10). */
  lockRetries?: number;
  /** First retry delay in ms (default 500), doubled each time, capped at 30 s. */
  retryBaseMs?: number;
}

export interface RunContext extends LockPolicy {
  conn: ReservedSql;
  emit: Emit;
  signal?: AbortSignal;
  monitor?: ProgressMonitor;
  /** Set orphan foreign-key values to NULL (saved in boosterz_db.orphan_audit) before validating. */
  detachOrphans?: boolean;
  /** Position of the first statement of this script in the whole run. */
  offset: number;
  total: number;
  /** The backend of `conn` (the monitor watches it). */
  pid?: number;
  /** The pool the run's extra sessions are opened from (each parallel build runs on its own). */
  pool?: Sql;
  /** Index builds side by side (`--parallel N`, default 1). */
  parallel?: number;
  /** max_parallel_maintenance_workers of each parallel build's session (capacity.ts buildWorkers). */
  buildWorkers?: number;
  /** Estimates of the statements, calibrated as they complete. */
  estimator?: Estimator;
  /** End of the maintenance window (epoch ms): a statement whose estimate does not fit is not started (exit 7). */
  deadline?: number;
  /** Estimated time of the scripts after this one (for the run's ETA). */
  laterMs?: number;
  /**
   * Called right before each statement starts (before each parallel build too; for a migration
   * in one transaction, once before it begins, with its first statement); may wait.
   */
  beforeStatement?: (r: StatementRef, signal?: AbortSignal) => Promise<void>;
}

export { statementChecksum } from './statements.js';

/** Ctrl-C / SIGTERM between statements: exit 130, the run resumes on rerun. */
export const interrupted = (where: string) => interruptedError(where, 'stopped at a safe point, rerun to resume');

export function ref(s: Script, st: Statement, ctx: RunContext): StatementRef {
  return {
    n: ctx.offset + st.index + 1,
    total: ctx.total,
    version: s.version,
    index: st.index,
    line: st.line,
    kind: st.kind,
    target: st.target,
    table: st.table,
    transactional: st.transactional,
  };
}

/** Runs one statement, cancelling it on the server if the signal fires; the monitor watches it. */
export async function exec(ctx: RunContext, r: StatementRef | undefined, text: string): Promise<void> {
  checkAbort(ctx.signal, 'before a statement started');
  const q = ctx.conn.unsafe(text);
  const cancel = () => void Promise.resolve(q.cancel() as unknown).catch(() => undefined);
  ctx.signal?.addEventListener('abort', cancel, { once: true });
  if (r) ctx.monitor?.watch(r, ctx.pid);
  try {
    await q;
  } finally {
    if (r) ctx.monitor?.unwatch(r);
    ctx.signal?.removeEventListener('abort', cancel);
  }
  // a statement that completed is kept (and journaled by the caller); the abort is honoured before the next one
}

export function checkAbort(signal: AbortSignal | undefined, where: string) {
  if (signal?.aborted) throw interrupted(where);
}

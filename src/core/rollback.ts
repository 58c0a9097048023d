import type { Sql } from '../db/connection.js';
import { withMigrationLock, type EngineOptions } from './engine/lock.js';
import { loadMigrations } from './engine/files.js';
import { readHistory } from './engine/history.js';
import { checkDrift, pendingDown, planLines, toScript, type PlanLine } from './engine/plan.js';
import { ProgressMonitor } from './engine/monitor.js';
import { runScript, type LockPolicy } from './engine/runner.js';
import { refusedError } from '../errors.js';
import { refuseNotOwner } from './engine/preflight.js';

export interface RollbackOptions extends EngineOptions, LockPolicy {
  /** Roll back every migration above this version. */
  to?: number;
  /** Roll back this many of the newest migrations (default 1). */
  steps?: number;
  /** The versions the user confirmed: refuse if the plan under the lock differs. */
  expectVersions?: number[];
}

export interface RollbackResult {
  versions: number[];
  migrations: { version: number; name: string; durationMs: number; statements: number }[];
  plan: PlanLine[];
  totalMs: number;
}

/** What `rollback` would run, newest first; writes nothing. */
export async function planRollback(sql: Sql, o: RollbackOptions): Promise<RollbackResult> {
  const files = await loadMigrations(o.migrationsDir, o.rollbackDir);
  const history = await readHistory(sql);
  checkDrift(files, history);
  const scripts = await Promise.all(pendingDown(files, history, o).map((f) => toScript(f, 'down')));
  await refuseNotOwner(sql, scripts);
  return { versions: scripts.map((s) => s.version), migrations: [], plan: planLines(scripts), totalMs: 0 };
}

/** Runs the rollback scripts of applied migrations, newest first, under the migration lock. */
export async function rollback(sql: Sql, o: RollbackOptions): Promise<RollbackResult> {
  const t0 = performance.now();
  return withMigrationLock(sql, o, async (conn, files) => {
    const history = await readHistory(conn);
    checkDrift(files, history);
    const scripts = await Promise.all(pendingDown(files, history, o).map((f) => toScript(f, 'down')));
    if (o.expectVersions && scripts.map((s) => s.version).join() !== o.expectVersions.join()) {
      throw refusedError(
        `the database changed since the rollback was confirmed: it would now roll back ${scripts.map((s) => s.version).join(', ') || 'nothing'} instead of ${o.expectVersions.join(', ')}; nothing was changed, run it again`,
      );
    }
    await refuseNotOwner(conn, scripts);
    const total = scripts.reduce((n, s) => n + s.statements.length, 0);
    o.emit({
      type: 'run:start',
      command: 'rollback',
      versions: scripts.map((s) => s.version),
      statements: total,
      database: o.database ?? '',
    });
    const [{ pid }] = await conn<{ pid: number }[]>`
      select pg_backend_pid() as pid, set_config('lock_timeout', '0', false), set_config('statement_timeout', '0', false)`;
    const monitor = new ProgressMonitor(sql, pid, o.emit);
    monitor.start();
    const migrations: RollbackResult['migrations'] = [];
    try {
      let offset = 0;
      for (const s of scripts) {
        const { durationMs, ran } = await runScript(s, { ...o, conn, monitor, offset, total });
        migrations.push({ version: s.version, name: s.name, durationMs, statements: ran });
        offset += s.statements.length;
      }
    } finally {
      monitor.stop();
    }
    return { versions: scripts.map((s) => s.version), migrations, plan: planLines(scripts), totalMs: performance.now() - t0 };
  });
}

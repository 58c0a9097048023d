import type { Sql } from '../db/connection.js';
import { withMigrationLock, type EngineOptions } from './engine.js';
import { loadMigrations, type MigrationFile } from './files.js';
import { formatFinding, lintMigrations } from './lint.js';
import { ensureHistory, historyExists, readHistory, userTableCount } from './history.js';
import { checkDrift, pendingUp, planLines, toScript, type PlanLine } from './plan.js';
import { runScript } from './runner.js';
import { refusedError } from './errors.js';

export interface MigrateOptions extends EngineOptions {
  /** Apply up to this version (inclusive). */
  to?: number;
  dryRun?: boolean;
  /** Run lint on the pending files first and refuse on a finding (default true). */
  lint?: boolean;
}

/** Refuses (exit 6) when a pending migration breaks a lint rule, unless lint is off. */
async function lintPending(files: MigrationFile[], pending: MigrationFile[], o: MigrateOptions): Promise<void> {
  if (o.lint === false || !pending.length) return;
  const findings = await lintMigrations(files, { only: new Set(pending.map((f) => f.version)) });
  if (findings.length) {
    throw refusedError(`lint found ${findings.length} problem(s) in pending migrations: ${formatFinding(findings[0]!)}`, [
      ...findings.slice(1).map(formatFinding),
      'fix the migration, add a "-- boosterz-lint: allow <rule>" comment where it is intended, or pass --no-lint',
    ], { findings });
  }
}

export interface MigrateResult {
  dryRun: boolean;
  /** Versions applied (or, in a dry run, that would be). */
  versions: number[];
  migrations: { version: number; name: string; durationMs: number; statements: number }[];
  plan: PlanLine[];
  totalMs: number;
}

/** Plans pending migrations without writing anything. */
async function dryRun(sql: Sql, o: MigrateOptions): Promise<MigrateResult> {
  const files = await loadMigrations(o.migrationsDir, o.rollbackDir);
  if (!(await historyExists(sql)) && (await userTableCount(sql)) > 0) {
    throw refusedError('this database already has tables but no migration history: run `boosterz-db baseline --version V` first');
  }
  const history = await readHistory(sql);
  checkDrift(files, history);
  const pending = pendingUp(files, history, o.to);
  await lintPending(files, pending, o);
  const scripts = await Promise.all(pending.map((f) => toScript(f, 'up')));
  return { dryRun: true, versions: scripts.map((s) => s.version), migrations: [], plan: planLines(scripts), totalMs: 0 };
}

/** Applies pending migrations in order under the migration lock. */
export async function migrate(sql: Sql, o: MigrateOptions): Promise<MigrateResult> {
  if (o.dryRun) return dryRun(sql, o);
  const t0 = performance.now();
  return withMigrationLock(sql, o, async (conn, files) => {
    await ensureHistory(conn);
    const history = await readHistory(conn);
    checkDrift(files, history);
    const pending = pendingUp(files, history, o.to);
    await lintPending(files, pending, o);
    const scripts = await Promise.all(pending.map((f) => toScript(f, 'up')));
    const total = scripts.reduce((n, s) => n + s.statements.length, 0);
    o.emit({ type: 'run:start', command: 'migrate', versions: scripts.map((s) => s.version), statements: total, database: o.database ?? '' });
    const migrations: MigrateResult['migrations'] = [];
    let offset = 0;
    for (const s of scripts) {
      const durationMs = await runScript(s, { conn, emit: o.emit, signal: o.signal, offset, total });
      migrations.push({ version: s.version, name: s.name, durationMs, statements: s.statements.length });
      offset += s.statements.length;
    }
    return { dryRun: false, versions: scripts.map((s) => s.version), migrations, plan: planLines(scripts), totalMs: performance.now() - t0 };
  });
}

import type { Sql } from '../db/connection.js';
import { withMigrationLock, type EngineOptions } from './engine/lock.js';
import { refusedError } from '../errors.js';
import { loadMigrations, type MigrationFile } from './engine/files.js';
import { ensureHistory, historyExists, needsBaselineError, readHistory, userTableCount } from './engine/history.js';
import { formatFinding, lintMigrations } from './engine/lint.js';
import { ProgressMonitor } from './engine/monitor.js';
import { checkDrift, pendingUp, planLines, toScript, type PlanLine } from './engine/plan.js';
import {
  blockingSessions,
  countOrphans,
  foreignKeysAdded,
  refuseConcurrentBuildBug,
  refuseNotOwner,
  refuseOrphans,
} from './engine/preflight.js';
import { runScript, type LockPolicy } from './engine/runner.js';
import { compareIndexes, refuseIndexConflicts } from './engine/indexdef.js';
import { writerRoles } from './engine/privileges.js';
import type { OrphanCount, Script, SessionInfo, StatementRef, WriterRole } from './engine/types.js';
import { withReserved } from '../db/session.js';
import { quoteQualified } from '../db/sql.js';
import { DEFAULT_MAX_REPLICA_LAG, describeLimit, replicationPreflight, ReplicaThrottle } from './engine/replicas.js';
import type { LagLimit } from './engine/types.js';
import { buildWorkers, capacity, reportCapacity } from './engine/capacity.js';
import { Estimator } from './engine/estimator.js';
import { planEstimate, scriptsMs, type PlanEstimate } from './engine/plan-estimates.js';

export interface MigrateOptions extends EngineOptions, LockPolicy {
  /** Apply up to this version (inclusive). */
  to?: number;
  dryRun?: boolean;
  /** Run lint on the pending files first and refuse on a finding (default true). */
  lint?: boolean;
  /** Go on although a transaction older than maxTransactionAgeMs could block the run. */
  yes?: boolean;
  /** Transactions older than this stop the run unless `yes` (default 5 minutes). */
  maxTransactionAgeMs?: number;
  /** `detach`: save orphan foreign-key values and set them to NULL before validating; default: refuse. */
  orphans?: 'refuse' | 'detach';
  /** Warn about who an index build waits for after this long (ms, default 30 s). */
  blockerWarnMs?: number;
  /** Before each statement, wait while a streaming standby lags more than this (default 30 s; null: never wait). */
  maxReplicaLag?: LagLimit | null;
  /** Index builds side by side in a statement-by-statement migration (default 1). */
  parallel?: number;
  /** End of the maintenance window (epoch ms): nothing that cannot finish before it is started (exit 7). */
  deadline?: number;
  /** The server's memory when it is not on this machine (for the --parallel memory check). */
  serverMemoryBytes?: number;
  /** The server's CPU cores when it is not on this machine (--parallel: workers per build, estimates). */
  serverCpus?: number;
  /** The shipped SQL files (the tool's own tables). */
  sqlDir?: string;
}

export interface TableStats {
  bytes: number;
  rows: number;
}

export interface MigrateResult {
  dryRun: boolean;
  /** Versions applied (or, in a dry run, that would be). */
  versions: number[];
  migrations: { version: number; name: string; durationMs: number; statements: number }[];
  plan: PlanLine[];
  /** Dry run: size and row estimate of each table the plan touches. */
  tables?: Record<string, TableStats>;
  sessions: SessionInfo[];
  orphans: OrphanCount[];
  /** Roles that write to the tables the run touches, and what the run means for them. */
  writers: WriterRole[];
  /** Dry run: each statement's estimate, the total one at a time and with --parallel N. */
  estimates?: PlanEstimate;
  totalMs: number;
}

/** Transactions older than this need --yes (default of --max-transaction-age). */
export const OLD_TRANSACTION_MS = 5 * 60_000;

/** Refuses (exit 6) when a pending migration breaks a lint rule, unless lint is off. */
async function lintPending(files: MigrationFile[], pending: MigrationFile[], o: MigrateOptions): Promise<void> {
  if (o.lint === false || !pending.length) return;
  const findings = await lintMigrations(files, { only: new Set(pending.map((f) => f.version)) });
  if (findings.length) {
    throw refusedError(
      `lint found ${findings.length} problem(s) in pending migrations: ${formatFinding(findings[0])}`,
      [
        ...findings.slice(1).map(formatFinding),
        'fix the migration, add a "-- boosterz-lint: allow <rule>" comment where it is intended, or pass --no-lint',
      ],
      { findings },
    );
  }
}

async function tableStats(sql: Sql, plan: PlanLine[]): Promise<Record<string, TableStats>> {
  const names = [...new Set(plan.map((l) => l.table).filter((t): t is string => !!t))];
  const out: Record<string, TableStats> = {};
  for (const t of names) {
    const [r] = await sql<{ bytes: string | null; rows: number | null }[]>`
      select pg_total_relation_size(c.oid)::text as bytes, greatest(c.reltuples, 0)::float8 as rows
        from pg_class c where c.oid = to_regclass(${quoteQualified(t)})`;
    if (r) out[t] = { bytes: Number(r.bytes), rows: Math.round(r.rows ?? 0) };
  }
  return out;
}

/** Who could block the run, and rows the new foreign keys would reject. */
async function preflight(sql: Sql, scripts: Script[], ownPids: number[]) {
  const sessions = scripts.length ? await blockingSessions(sql, ownPids) : [];
  const orphans = (await countOrphans(sql, foreignKeysAdded(scripts))).filter((o) => o.count > 0);
  const writers = await writerRoles(sql, scripts);
  return { sessions, orphans, writers };
}

function refuseOldSessions(sessions: SessionInfo[], yes: boolean | undefined, maxAgeMs: number) {
  const old = sessions.filter((s) => s.xactAgeMs > maxAgeMs);
  if (!old.length || yes) return;
  const d = (s: SessionInfo) =>
    `pid ${s.pid} (${s.application_name || 'no application_name'}, ${s.usename ?? '?'}, ${s.state}) transaction open ${Math.round(s.xactAgeMs / 1000)} s: ${s.query.replace(/\s+/g, ' ').slice(0, 100)}`;
  throw refusedError(
    `${old.length} transaction(s) open for more than ${Math.round(maxAgeMs / 1000)} s would block index builds and ALTER TABLE: ${d(old[0])}`,
    [...old.slice(1).map(d), 'end them (pg_terminate_backend) or wait; pass --yes to go on anyway'],
    { sessions: old },
  );
}

const limitOf = (o: MigrateOptions) => (o.maxReplicaLag === undefined ? DEFAULT_MAX_REPLICA_LAG : o.maxReplicaLag);

/** Pre-flight of replication: standbys, slots holding WAL, the WAL the run will write. */
async function emitReplication(sql: Sql, scripts: Script[], o: MigrateOptions): Promise<void> {
  if (!scripts.length) return;
  const limit = limitOf(o);
  o.emit({ type: 'replicas', limit: limit ? describeLimit(limit) : null, ...(await replicationPreflight(sql, scripts)) });
}

/** Plans pending migrations without writing anything. */
async function dryRun(sql: Sql, o: MigrateOptions): Promise<MigrateResult> {
  const files = await loadMigrations(o.migrationsDir, o.rollbackDir);
  if (!(await historyExists(sql))) {
    const tables = await userTableCount(sql);
    if (tables > 0) throw needsBaselineError(tables);
  }
  const history = await readHistory(sql);
  checkDrift(files, history);
  const pending = pendingUp(files, history, o.to);
  await lintPending(files, pending, o);
  const scripts = await Promise.all(pending.map((f) => toScript(f, 'up')));
  await refuseConcurrentBuildBug(sql, scripts); // PostgreSQL 14.0–14.3
  await refuseNotOwner(sql, scripts);
  refuseIndexConflicts(
    await withReserved(sql, (conn) =>
      compareIndexes(
        conn,
        scripts.flatMap((s) => s.statements),
      ),
    ),
  );
  const plan = planLines(scripts);
  const [{ pid }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
  const pre = await preflight(sql, scripts, [pid]);
  await emitReplication(sql, scripts, o);
  const parallel = Math.max(1, o.parallel ?? 1);
  const cap = await capacity(sql, o.serverMemoryBytes, o.serverCpus);
  if (parallel > 1) reportCapacity(parallel, cap, o.emit);
  const estimates = planEstimate(scripts, await Estimator.load(sql, scripts, cap.cores), parallel);
  return {
    estimates,
    dryRun: true,
    versions: scripts.map((s) => s.version),
    migrations: [],
    plan,
    tables: await tableStats(sql, plan),
    ...pre,
    totalMs: 0,
  };
}

/** Applies pending migrations in order under the migration lock, with pre-flight checks and live progress. */
export async function migrate(sql: Sql, o: MigrateOptions): Promise<MigrateResult> {
  if (o.dryRun) return dryRun(sql, o);
  const t0 = performance.now();
  return withMigrationLock(sql, o, async (conn, files) => {
    await ensureHistory(conn, { sqlDir: o.sqlDir });
    const history = await readHistory(conn);
    checkDrift(files, history);
    const pending = pendingUp(files, history, o.to);
    await lintPending(files, pending, o);
    const scripts = await Promise.all(pending.map((f) => toScript(f, 'up')));
    await refuseConcurrentBuildBug(conn, scripts); // PostgreSQL 14.0–14.3
    await refuseNotOwner(conn, scripts);
    const [{ pid }] = await conn<{ pid: number }[]>`
      select pg_backend_pid() as pid, set_config('lock_timeout', '0', false), set_config('statement_timeout', '0', false),
             set_config('idle_in_transaction_session_timeout', '0', false)`;
    const pre = await preflight(sql, scripts, [pid]);
    refuseIndexConflicts(
      await compareIndexes(
        conn,
        scripts.flatMap((s) => s.statements),
      ),
    );
    const total = scripts.reduce((n, s) => n + s.statements.length, 0);
    o.emit({
      type: 'run:start',
      command: 'migrate',
      versions: scripts.map((s) => s.version),
      statements: total,
      database: o.database ?? '',
    });
    if (scripts.length) o.emit({ type: 'preflight', ...pre });
    refuseOldSessions(pre.sessions, o.yes, o.maxTransactionAgeMs ?? OLD_TRANSACTION_MS);
    if (o.orphans !== 'detach') refuseOrphans(pre.orphans);
    await emitReplication(sql, scripts, o);
    const limit = limitOf(o);
    const throttle = limit ? new ReplicaThrottle(sql, limit, o.emit) : undefined;
    const beforeStatement = throttle
      ? (r: StatementRef, signal?: AbortSignal) => throttle.wait(`statement ${r.n}/${r.total}`, signal)
      : undefined;
    const parallel = Math.max(1, o.parallel ?? 1);
    const cap = await capacity(conn, o.serverMemoryBytes, o.serverCpus);
    if (parallel > 1 && scripts.length) reportCapacity(parallel, cap, o.emit);
    const estimator = await Estimator.load(conn, scripts, cap.cores);
    if (o.deadline !== undefined && scripts.length) {
      const estimateMs = scriptsMs(scripts, estimator, parallel);
      o.emit({ type: 'window', deadline: new Date(o.deadline).toISOString(), leftMs: o.deadline - Date.now(), estimateMs });
    }
    const monitor = new ProgressMonitor(sql, pid, o.emit, { blockerWarnMs: o.blockerWarnMs });
    monitor.start();
    const migrations: MigrateResult['migrations'] = [];
    try {
      let offset = 0;
      for (const [i, s] of scripts.entries()) {
        if (i) await estimator.readSizes(conn, [s]);
        const laterMs = scriptsMs(scripts.slice(i + 1), estimator, parallel);
        const { durationMs, ran } = await runScript(s, {
          ...o,
          conn,
          pool: sql,
          parallel,
          buildWorkers: buildWorkers(parallel, cap),
          estimator,
          laterMs,
          monitor,
          detachOrphans: o.orphans === 'detach',
          offset,
          total,
          beforeStatement,
        });
        migrations.push({ version: s.version, name: s.name, durationMs, statements: ran });
        offset += s.statements.length;
      }
    } finally {
      monitor.stop();
    }
    return {
      dryRun: false,
      versions: scripts.map((s) => s.version),
      migrations,
      plan: planLines(scripts),
      ...pre,
      totalMs: performance.now() - t0,
    };
  });
}

import chalk from 'chalk';
import ora, { type Ora } from 'ora';
import { randomUUID } from 'node:crypto';
import type { EngineEvent } from '../core/engine/events.js';
import { describeBlocker } from '../core/engine/monitor.js';
import { describeOrphans } from '../core/engine/preflight.js';
import { describeWriter } from '../core/engine/privileges.js';
import type { OrphanCount, SessionInfo, StatementRef, WriterRole } from '../core/engine/types.js';
import { formatMs, type Output } from './output.js';
import { TOOL_SCHEMA } from '../db/sql.js';
import { formatBytes } from './render.js';
import { throttleLine } from './throttle.js';

const label = (e: StatementRef) =>
  `[${e.n}/${e.total}] ${String(e.version).padStart(4, '0')} ${e.kind}${e.target ? ` ${e.target}` : ''}${e.table && e.table !== e.target ? ` on ${e.table}` : ''}`;

/** `building index: scanning table 45% (ETA 12s)` / `waiting for pid 42 (psql, idle in transaction, transaction open 310s)` */
function progressText(e: Extract<EngineEvent, { type: 'progress' }>): string {
  const parts: string[] = [];
  if (e.phase)
    parts.push(
      `${e.phase}${e.pct !== undefined ? ` ${e.pct.toFixed(0)}%` : ''}${e.etaMs !== undefined && e.pct !== undefined && e.pct < 100 ? ` (ETA ${formatMs(e.etaMs)})` : ''}`,
    );
  if (e.waiting.length) parts.push(`waiting for ${e.waiting.map(describeBlocker).join(', ')}`);
  return parts.join(' — ');
}

/** Plain (non-TTY) progress lines come at most this often per statement. */
const PLAIN_PROGRESS_EVERY_MS = 10_000;

/**
 * Turns engine events into a spinner per statement (TTY), timestamped lines (no TTY)
 * or NDJSON events on stdout (--json), each carrying the run id.
 */
export class ProgressRenderer {
  readonly runId = randomUUID();
  private spinner?: Ora;
  private timer?: NodeJS.Timeout;
  private started = 0;
  private detail = '';
  private lastPlain = 0;
  private lastThrottle = 0;
  readonly slowest: { label: string; ms: number }[] = [];

  constructor(private readonly out: Output) {}

  readonly handle = (e: EngineEvent): void => {
    if (e.type === 'statement:done') {
      this.slowest.push({ label: `${String(e.version).padStart(4, '0')} ${e.kind}${e.target ? ` ${e.target}` : ''}`, ms: e.durationMs });
    }
    if (this.out.json) {
      this.out.jsonLine({ ...e, runId: this.runId, ts: new Date().toISOString() });
      return;
    }
    switch (e.type) {
      case 'run:start':
        this.out.info(
          e.statements
            ? `${e.command}: ${e.versions.length} migration(s), ${e.statements} statement(s) on ${e.database}`
            : `${e.command}: nothing to do on ${e.database}`,
        );
        break;
      case 'lock:wait':
        this.out.info(
          `waiting for the migration lock held by ${e.holder ? `pid ${e.holder.pid} (${e.holder.application_name})` : 'another session'}`,
        );
        break;
      case 'lock:orphan':
        this.out.warn(
          `the migration lock is held by pid ${e.holder.pid} (${e.holder.application_name}), whose run has gone (its heartbeat stopped)` +
            `${e.phase ? ` in ${e.phase}${e.pct !== undefined ? ` ${e.pct.toFixed(0)}%` : ''}` : ''}: waiting up to ${formatMs(e.waitMs)} for the server to end that session, then resuming`,
        );
        break;
      case 'replicas':
        this.replicas(e);
        break;
      case 'throttle':
        this.pause();
        if (e.waitedMs === 0 || performance.now() - this.lastThrottle >= PLAIN_PROGRESS_EVERY_MS || this.out.isTTY) {
          this.lastThrottle = performance.now();
          this.out.info(throttleLine(e));
        }
        break;
      case 'throttle:done':
        this.out.info(throttleLine(e));
        break;
      case 'preflight':
        this.preflight(e.sessions, e.orphans, e.writers);
        break;
      case 'migration:start':
        this.out.info(
          chalk.bold(
            `${e.direction === 'up' ? '→' : '←'} ${String(e.version).padStart(4, '0')}_${e.name} (${e.statements} statements, ${e.transactional ? 'one transaction' : 'statement by statement, journaled'})`,
          ),
        );
        break;
      case 'statement:start':
        this.startStatement(e);
        break;
      case 'statement:skip':
        this.out.verbose(`${label(e)} skipped: ${e.reason}`);
        break;
      case 'progress':
        this.progress(e);
        break;
      case 'retry':
        this.pause();
        this.out.warn(`${label(e)}: ${e.reason}; retry ${e.attempt}/${e.of} in ${formatMs(e.delayMs)}`);
        break;
      case 'statement:done':
        this.endStatement(true, `${label(e)} ${chalk.dim(formatMs(e.durationMs))}`);
        break;
      case 'statement:failed':
        this.endStatement(false, `${label(e)} failed after ${formatMs(e.durationMs)}`);
        break;
      case 'migration:done':
        this.out.info(
          `${chalk.green('✓')} ${String(e.version).padStart(4, '0')}_${e.name} ${e.direction === 'up' ? 'applied' : 'rolled back'} in ${formatMs(e.durationMs)}`,
        );
        break;
      case 'orphans:detached':
        this.pause();
        this.out.info(`detached ${e.rows} orphan value(s) of ${e.table}.${e.column} (saved in ${TOOL_SCHEMA}.orphan_audit, now NULL)`);
        break;
      case 'notice':
        this.pause();
        this.out.info(`notice: ${e.message}`); // as psql shows them: the scripts say what they granted, restored, skipped
        break;
      case 'warning':
        this.pause();
        this.out.warn(e.message);
        break;
    }
  };

  /** Pre-flight of replication: each standby's lag, slots holding WAL, the WAL the run will write. */
  replicas(e: Extract<EngineEvent, { type: 'replicas' }>): void {
    for (const s of e.standbys)
      this.out.info(
        `pre-flight: standby ${s.name} (${s.state ?? '?'}) lags ${s.lagBytes === null ? '? (needs pg_monitor)' : formatBytes(s.lagBytes)}${s.replayLagMs === null ? '' : ` / ${formatMs(s.replayLagMs)}`}`,
      );
    for (const s of e.slots) {
      const bad = s.walStatus === 'unreserved' || s.walStatus === 'lost';
      const text = `pre-flight: replication slot ${s.name} (${s.type}, ${s.active ? 'active' : 'inactive'}, wal_status ${s.walStatus ?? '?'}) holds ${s.retainedBytes === null ? '?' : formatBytes(s.retainedBytes)} of WAL`;
      if (bad || !s.active)
        this.out.warn(
          `${text}${s.walStatus === 'lost' ? ': its standby can no longer catch up' : bad ? ': the WAL it needs is about to be removed' : ': the WAL this run writes stays on disk until its standby comes back'}`,
        );
      else this.out.info(text);
    }
    this.out.info(
      `pre-flight: the pending index builds will write about ${formatBytes(e.walEstimateBytes)} of WAL (from the tables' rows and column widths)` +
        `${e.standbys.length ? `; --max-replica-lag ${e.limit ?? 'off'}` : ''}`,
    );
  }

  /** Pre-flight findings: sessions that may block, orphan rows. */
  preflight(sessions: SessionInfo[], orphans: OrphanCount[], writers: WriterRole[] = []): void {
    for (const w of writers) this.out.info(`pre-flight: role ${describeWriter(w)}`);
    for (const s of sessions) {
      this.out.warn(
        `pid ${s.pid} (${s.application_name || 'no application_name'}, ${s.usename ?? '?'}, ${s.state}) has a transaction open for ${formatMs(s.xactAgeMs)}: it can block index builds and ALTER TABLE`,
      );
    }
    for (const o of orphans) this.out.warn(describeOrphans(o));
  }

  topSlowest(n = 5) {
    return [...this.slowest]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, n)
      .map((s) => ({ statement: s.label, ms: Math.round(s.ms) }));
  }

  private progress(e: Extract<EngineEvent, { type: 'progress' }>) {
    this.detail = progressText(e);
    if (this.out.isTTY || !this.detail) return;
    const now = performance.now();
    if (now - this.lastPlain < PLAIN_PROGRESS_EVERY_MS) return;
    this.lastPlain = now;
    this.out.info(`${label(e)} ${formatMs(e.elapsedMs)}: ${this.detail}`);
  }

  private startStatement(e: StatementRef) {
    this.started = performance.now();
    this.lastPlain = this.started;
    this.detail = '';
    if (!this.out.isTTY || this.out.flags.quiet) return;
    this.spinner = ora({ text: label(e), stream: process.stderr, discardStdin: false }).start();
    this.timer = setInterval(() => {
      if (this.spinner)
        this.spinner.text = `${label(e)} ${chalk.dim(formatMs(performance.now() - this.started))}${this.detail ? ` ${chalk.cyan(this.detail)}` : ''}`;
    }, 100);
    this.timer.unref();
  }

  private endStatement(ok: boolean, text: string) {
    clearInterval(this.timer);
    if (this.spinner) {
      if (ok) this.spinner.succeed(text);
      else this.spinner.fail(text);
      this.spinner = undefined;
    } else if (ok) this.out.info(text);
    else this.out.info(chalk.red(text));
  }

  /** Stops the spinner (before an error or warning is printed). */
  pause() {
    clearInterval(this.timer);
    this.spinner?.stop();
    this.spinner = undefined;
  }
}

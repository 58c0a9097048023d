import chalk from 'chalk';
import { randomUUID } from 'node:crypto';
import type { EngineEvent } from '../core/engine/events.js';
import { describeBlocker } from '../core/engine/monitor.js';
import { describeOrphans } from '../core/engine/preflight.js';
import { describeWriter } from '../core/engine/privileges.js';
import type { OrphanCount, SessionInfo, StatementRef, WriterRole } from '../core/engine/types.js';
import { LiveLines } from './live-lines.js';
import { formatMs, type Output } from './output.js';
import type { EstimateVsActual } from './render-estimates.js';
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

interface Live {
  ref: StatementRef;
  started: number;
  detail: string;
  lastPlain: number;
  estimateMs?: number;
}

/**
 * Turns engine events into spinner lines, one per running statement (TTY; several with
 * --parallel), timestamped lines (no TTY) or NDJSON events on stdout (--json), each carrying
 * the run id; and the run's ETA.
 */
export class ProgressRenderer {
  readonly runId = randomUUID();
  private readonly running = new Map<number, Live>();
  private readonly live: LiveLines;
  private lastThrottle = 0;
  private eta?: { etaMs: number; at: number; left: number };
  readonly slowest: { label: string; ms: number }[] = [];
  private readonly compared: EstimateVsActual[] = [];

  constructor(private readonly out: Output) {
    this.live = new LiveLines(() => this.liveLines());
  }

  readonly handle = (e: EngineEvent): void => {
    if (e.type === 'statement:done') {
      const name = `${String(e.version).padStart(4, '0')} ${e.kind}${e.target ? ` ${e.target}` : ''}`;
      this.slowest.push({ label: name, ms: e.durationMs });
      if (e.estimateMs !== undefined) this.compared.push({ n: e.n, statement: name, estimateMs: e.estimateMs, actualMs: e.durationMs });
    }
    if (e.type === 'eta') this.eta = { etaMs: e.etaMs, at: performance.now(), left: e.left };
    if (this.out.json) {
      this.out.jsonLine({ ...e, runId: this.runId, ts: new Date().toISOString() });
      return;
    }
    switch (e.type) {
      case 'run:start':
        this.print(() =>
          this.out.info(
            e.statements
              ? `${e.command}: ${e.versions.length} migration(s), ${e.statements} statement(s) on ${e.database}`
              : `${e.command}: nothing to do on ${e.database}`,
          ),
        );
        break;
      case 'lock:wait':
        this.print(() =>
          this.out.info(
            `waiting for the migration lock held by ${e.holder ? `pid ${e.holder.pid} (${e.holder.application_name})` : 'another session'}`,
          ),
        );
        break;
      case 'lock:orphan':
        this.print(() =>
          this.out.warn(
            `the migration lock is held by pid ${e.holder.pid} (${e.holder.application_name}), whose run has gone (its heartbeat stopped)` +
              `${e.phase ? ` in ${e.phase}${e.pct !== undefined ? ` ${e.pct.toFixed(0)}%` : ''}` : ''}: waiting up to ${formatMs(e.waitMs)} for the server to end that session, then resuming`,
          ),
        );
        break;
      case 'replicas':
        this.print(() => this.replicas(e));
        break;
      case 'throttle':
        if (e.waitedMs === 0 || performance.now() - this.lastThrottle >= PLAIN_PROGRESS_EVERY_MS || this.out.isTTY) {
          this.lastThrottle = performance.now();
          this.print(() => this.out.info(throttleLine(e)));
        }
        break;
      case 'throttle:done':
        this.print(() => this.out.info(throttleLine(e)));
        break;
      case 'preflight':
        this.print(() => this.preflight(e.sessions, e.orphans, e.writers));
        break;
      case 'window':
        this.print(() =>
          this.out.info(
            `window: until ${new Date(e.deadline).toLocaleString()} (${formatMs(Math.max(0, e.leftMs))} left); the pending statements are estimated at ${formatMs(e.estimateMs)}`,
          ),
        );
        break;
      case 'migration:start':
        this.print(() =>
          this.out.info(
            chalk.bold(
              `${e.direction === 'up' ? '→' : '←'} ${String(e.version).padStart(4, '0')}_${e.name} (${e.statements} statements, ${e.transactional ? 'one transaction' : 'statement by statement, journaled'})`,
            ),
          ),
        );
        break;
      case 'statement:start':
        this.startStatement(e, e.estimateMs);
        break;
      case 'statement:skip':
        this.print(() => this.out.verbose(`${label(e)} skipped: ${e.reason}`));
        break;
      case 'progress':
        this.progress(e);
        break;
      case 'retry':
        this.print(() => this.out.warn(`${label(e)}: ${e.reason}; retry ${e.attempt}/${e.of} in ${formatMs(e.delayMs)}`));
        break;
      case 'statement:done': {
        const est = e.estimateMs !== undefined ? ` (estimate ${formatMs(e.estimateMs)})` : '';
        this.endStatement(e.n, true, `${label(e)} ${chalk.dim(formatMs(e.durationMs) + est)}`);
        break;
      }
      case 'statement:failed':
        this.endStatement(e.n, false, `${label(e)} failed after ${formatMs(e.durationMs)}`);
        break;
      case 'migration:done':
        this.print(() =>
          this.out.info(
            `${chalk.green('✓')} ${String(e.version).padStart(4, '0')}_${e.name} ${e.direction === 'up' ? 'applied' : 'rolled back'} in ${formatMs(e.durationMs)}`,
          ),
        );
        break;
      case 'orphans:detached':
        this.print(() =>
          this.out.info(`detached ${e.rows} orphan value(s) of ${e.table}.${e.column} (saved in ${TOOL_SCHEMA}.orphan_audit, now NULL)`),
        );
        break;
      case 'notice':
        this.print(() => this.out.info(`notice: ${e.message}`)); // as psql shows them: the scripts say what they granted, restored, skipped
        break;
      case 'warning':
        this.print(() => this.out.warn(e.message));
        break;
      default:
        break;
    }
  };

  /** Pre-flight findings: sessions that may block, orphan rows. */
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

  /** Each completed statement's estimate (made when it started) and its duration, in run order. */
  estimateVsActual(): EstimateVsActual[] {
    return [...this.compared]
      .sort((a, b) => a.n - b.n)
      .map((c) => ({ ...c, estimateMs: Math.round(c.estimateMs), actualMs: Math.round(c.actualMs) }));
  }

  /** The run's ETA now: the last estimate, counted down. */
  private etaText(): string {
    if (!this.eta) return '';
    const left = Math.max(0, this.eta.etaMs - (performance.now() - this.eta.at));
    return `run ETA ${formatMs(left)}, ${this.eta.left} statement(s) left`;
  }

  private liveLines(): string[] {
    const lines = [...this.running.values()].map(
      (r) =>
        `${label(r.ref)} ${formatMs(performance.now() - r.started)}${r.estimateMs !== undefined ? ` / ~${formatMs(r.estimateMs)}` : ''}${r.detail ? ` ${r.detail}` : ''}`,
    );
    const eta = this.etaText();
    return lines.length && eta ? [...lines, eta] : lines;
  }

  private spinners(): boolean {
    return this.out.isTTY && !this.out.flags.quiet;
  }

  /** Prints above the spinner block. */
  private print(fn: () => void): void {
    if (this.spinners()) this.live.clear();
    fn();
  }

  private progress(e: Extract<EngineEvent, { type: 'progress' }>) {
    const r = this.running.get(e.n);
    if (!r) return;
    r.detail = progressText(e);
    if (this.out.isTTY || !r.detail) return;
    const now = performance.now();
    if (now - r.lastPlain < PLAIN_PROGRESS_EVERY_MS) return;
    r.lastPlain = now;
    const eta = this.etaText();
    this.out.info(`${label(e)} ${formatMs(e.elapsedMs)}: ${r.detail}${eta ? ` — ${eta}` : ''}`);
  }

  private startStatement(e: StatementRef, estimateMs?: number) {
    const now = performance.now();
    this.running.set(e.n, { ref: e, started: now, lastPlain: now, detail: '', estimateMs });
    if (this.spinners()) this.live.start();
  }

  private endStatement(n: number, ok: boolean, text: string) {
    this.running.delete(n);
    if (this.spinners()) {
      this.live.clear();
      this.out.info(`${ok ? chalk.green('✔') : chalk.red('✖')} ${text}`);
      if (!this.running.size) this.live.stop();
    } else if (ok) this.out.info(text);
    else this.out.info(chalk.red(text));
  }

  /** Stops the spinners (before an error or a result is printed). */
  pause() {
    this.live.stop();
  }
}

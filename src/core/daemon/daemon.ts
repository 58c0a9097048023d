import { hostname } from 'node:os';
import { schedule, type ScheduledTask } from 'node-cron';
import type { Sql } from '../../db/connection.js';
import { withReserved } from '../../db/connection.js';
import { LockKey, tryLock, unlock } from '../../db/lock.js';
import { cleanup } from '../maintenance/cleanup.js';
import { refreshViews } from '../maintenance/refresh.js';
import { claimRun, ensureJobTables, finishRun, forgetSchedules, pruneRuns, recordSchedules, type JobName } from './runs.js';

/** One line of the daemon's log: what happened to which job. */
export interface DaemonEvent {
  event: 'daemon:start' | 'daemon:stop' | 'job:start' | 'job:done' | 'job:failed' | 'job:skipped' | 'job:cancelled' | 'notify' | 'db:down' | 'db:up' | 'listen';
  job?: JobName;
  trigger?: 'schedule' | 'notify';
  tick?: string;
  outcome?: 'ok' | 'failed' | 'skipped' | 'cancelled';
  reason?: string;
  rows?: number;
  durationMs?: number;
  error?: string;
  view?: string;
  schedules?: { job: JobName; cron: string; timezone: string }[];
}

export interface DaemonOptions {
  refreshCron: string;
  cleanupCron: string;
  timezone: string;
  /** Wait this long after a freshness NOTIFY before refreshing (ms). */
  refreshDebounceMs: number;
  /** On stop, let a running job finish this long before cancelling it (ms). */
  shutdownTimeoutMs: number;
  /** Prune job history older than this many days. */
  historyDays: number;
  /** cleanup's own limits per run. */
  cleanupBatchSize?: number;
  cleanupMaxRuntimeMs?: number;
  onEvent: (e: DaemonEvent) => void;
}

/** Per-job counters for /metrics. */
export interface JobStats {
  runs: Record<string, number>;
  durationSumS: number;
  durationCount: number;
  lastSuccess?: number;
  lastDurationS?: number;
}

const CHANNEL = 'boosterz_views_stale';
const KEYS: Record<JobName, number> = { refresh: LockKey.refreshJob, cleanup: LockKey.cleanupJob };

/**
 * Runs refresh and cleanup on cron schedules. A tick that finds the same job still running
 * here is skipped; across daemons, a session advisory lock plus a (job, tick) claim in
 * boosterz_db.job_runs make each tick run once. A freshness NOTIFY triggers a refresh after a
 * debounce. Job errors are logged and retried next tick; they never stop the daemon.
 */
export class Daemon {
  readonly host = hostname();
  readonly pid = process.pid;
  readonly stats: Record<JobName, JobStats> = { refresh: { runs: {}, durationSumS: 0, durationCount: 0 }, cleanup: { runs: {}, durationSumS: 0, durationCount: 0 } };
  dbUp = false;
  private tasks: ScheduledTask[] = [];
  private running = new Map<JobName, { abort: AbortController; done: Promise<void> }>();
  private debounce?: NodeJS.Timeout;
  private refreshAgain = false;
  private heartbeat?: NodeJS.Timeout;
  private unlisten?: () => Promise<void>;
  private stopping = false;

  constructor(private readonly sql: Sql, private readonly o: DaemonOptions) {}

  private get schedules() {
    return [
      { job: 'refresh' as const, cron: this.o.refreshCron, timezone: this.o.timezone },
      { job: 'cleanup' as const, cron: this.o.cleanupCron, timezone: this.o.timezone },
    ];
  }

  async start(): Promise<void> {
    await this.ping();
    for (const s of this.schedules) {
      this.tasks.push(schedule(s.cron, (ctx) => void this.run(s.job, 'schedule', ctx.date), { timezone: s.timezone, name: `boosterz-${s.job}` }));
    }
    this.heartbeat = setInterval(() => void this.ping(), 30_000);
    this.o.onEvent({ event: 'daemon:start', schedules: this.schedules });
    void this.listen();
  }

  /** Checks the database, (re)creates the daemon's tables and records this daemon's schedules. */
  private async ping(): Promise<void> {
    try {
      await ensureJobTables(this.sql);
      await recordSchedules(this.sql, this.host, this.pid, this.schedules);
      if (!this.dbUp) this.o.onEvent({ event: 'db:up' });
      this.dbUp = true;
    } catch (err) {
      if (this.dbUp || !this.heartbeat) this.o.onEvent({ event: 'db:down', error: (err as Error).message });
      this.dbUp = false;
    }
  }

  /** LISTEN for the freshness triggers; postgres.js re-listens after a reconnect. Retries with backoff until it works. */
  private async listen(attempt = 0): Promise<void> {
    if (this.stopping) return;
    try {
      const sub = await this.sql.listen(CHANNEL, (view) => this.onNotify(view), () => this.o.onEvent({ event: 'listen', reason: `listening on ${CHANNEL}` }));
      this.unlisten = sub.unlisten;
    } catch (err) {
      const delay = Math.min(60_000, 1000 * 2 ** attempt);
      this.o.onEvent({ event: 'db:down', error: `LISTEN failed: ${(err as Error).message}; retry in ${Math.round(delay / 1000)}s` });
      setTimeout(() => void this.listen(attempt + 1), delay).unref();
    }
  }

  private onNotify(view: string): void {
    this.o.onEvent({ event: 'notify', view });
    if (this.debounce || this.stopping) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      if (this.running.has('refresh')) this.refreshAgain = true;
      else void this.run('refresh', 'notify', null);
    }, this.o.refreshDebounceMs);
  }

  /** One run of a job, unless it is running here already, elsewhere, or this tick ran elsewhere. */
  async run(job: JobName, trigger: 'schedule' | 'notify', tickDate: Date | null): Promise<void> {
    if (this.stopping) return;
    const tick = tickDate ? new Date(Math.round(tickDate.getTime() / 1000) * 1000) : null;
    const base = { job, trigger, tick: tick?.toISOString() } as const;
    if (this.running.has(job)) {
      this.count(job, 'skipped');
      return this.o.onEvent({ ...base, event: 'job:skipped', outcome: 'skipped', reason: 'overlap: the previous run is still going' });
    }
    const abort = new AbortController();
    let finish!: () => void;
    this.running.set(job, { abort, done: new Promise<void>((r) => (finish = r)) });
    const t0 = performance.now();
    try {
      await withReserved(this.sql, async (conn) => {
        if (!(await tryLock(conn, KEYS[job]))) {
          this.count(job, 'skipped');
          return this.o.onEvent({ ...base, event: 'job:skipped', outcome: 'skipped', reason: 'running elsewhere' });
        }
        try {
          const id = await claimRun(conn, { job, tick, trigger, host: this.host, pid: this.pid });
          if (id === undefined) {
            this.count(job, 'skipped');
            return this.o.onEvent({ ...base, event: 'job:skipped', outcome: 'skipped', reason: 'this tick already ran elsewhere' });
          }
          this.o.onEvent({ ...base, event: 'job:start' });
          try {
            const rows = await this.work(job, abort.signal);
            const durationMs = performance.now() - t0;
            const outcome = abort.signal.aborted ? 'cancelled' : 'ok';
            await finishRun(conn, id, outcome, rows, null);
            this.count(job, outcome, durationMs);
            this.o.onEvent({ ...base, event: outcome === 'ok' ? 'job:done' : 'job:cancelled', outcome, rows, durationMs });
          } catch (err) {
            const durationMs = performance.now() - t0;
            const outcome = abort.signal.aborted ? 'cancelled' : 'failed';
            await finishRun(conn, id, outcome, null, (err as Error).message).catch(() => undefined);
            this.count(job, outcome, durationMs);
            this.o.onEvent({ ...base, event: outcome === 'failed' ? 'job:failed' : 'job:cancelled', outcome, durationMs, error: (err as Error).message });
          }
        } finally {
          await unlock(conn, KEYS[job]).catch(() => undefined);
        }
      });
    } catch (err) {
      // could not even reach the database: logged, tried again next tick
      this.count(job, 'failed', performance.now() - t0);
      this.o.onEvent({ ...base, event: 'job:failed', outcome: 'failed', error: (err as Error).message });
    } finally {
      this.running.delete(job);
      finish();
      if (job === 'refresh' && this.refreshAgain && !this.stopping) {
        this.refreshAgain = false;
        this.onNotify('(changes during the last refresh)');
      }
    }
  }

  private async work(job: JobName, signal: AbortSignal): Promise<number> {
    if (job === 'refresh') {
      const r = await refreshViews(this.sql, { signal });
      return r.refreshed.length;
    }
    const r = await cleanup(this.sql, { signal, batchSize: this.o.cleanupBatchSize, maxRuntimeMs: this.o.cleanupMaxRuntimeMs });
    await pruneRuns(this.sql, this.o.historyDays);
    return Object.values(r.tables).reduce((a, b) => a + b, 0);
  }

  private count(job: JobName, outcome: string, durationMs?: number) {
    const s = this.stats[job];
    s.runs[outcome] = (s.runs[outcome] ?? 0) + 1;
    if (durationMs !== undefined && outcome !== 'skipped') {
      s.durationSumS += durationMs / 1000;
      s.durationCount++;
      s.lastDurationS = durationMs / 1000;
    }
    if (outcome === 'ok') s.lastSuccess = Date.now() / 1000;
  }

  /** Stops scheduling, lets running jobs finish up to the shutdown timeout, then cancels them; releases everything. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.tasks) await t.stop();
    for (const t of this.tasks) await t.destroy();
    clearTimeout(this.debounce);
    clearInterval(this.heartbeat);
    const pending = [...this.running.values()];
    if (pending.length) {
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), this.o.shutdownTimeoutMs).unref());
      if ((await Promise.race([Promise.all(pending.map((p) => p.done)), timeout])) === 'timeout') {
        for (const p of pending) p.abort.abort();
        await Promise.all(pending.map((p) => p.done));
      }
    }
    await this.unlisten?.().catch(() => undefined);
    await forgetSchedules(this.sql, this.host, this.pid).catch(() => undefined);
    this.o.onEvent({ event: 'daemon:stop' });
  }
}

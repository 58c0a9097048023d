import { hostname } from 'node:os';
import { schedule, type ScheduledTask } from 'node-cron';
import type { Sql } from '../../db/connection.js';
import { LockKey, tryLock, unlock } from '../../db/lock.js';
import { openSession, type Session } from '../../db/session.js';
import { isConnectionLoss } from '../../errors.js';
import { serverRole, type ServerRole } from '../../db/topology.js';
import { DEFAULT_MAX_REPLICA_LAG, ReplicaThrottle } from '../engine/replicas.js';
import type { LagLimit } from '../engine/types.js';
import { cleanup } from '../maintenance/cleanup.js';
import { refreshViews } from '../maintenance/refresh.js';
import { inFlightTransactions, staleOnceEnded } from './in-flight.js';
import {
  claimRun,
  closeAbandonedRuns,
  ensureJobTables,
  finishRun,
  forgetSchedules,
  pruneRuns,
  recordSchedules,
  type JobName,
  type JobRun,
} from './runs.js';

/** One line of the daemon's log: what happened to which job. */
export interface DaemonEvent {
  event:
    | 'daemon:start'
    | 'daemon:stop'
    | 'job:start'
    | 'job:done'
    | 'job:failed'
    | 'job:skipped'
    | 'job:cancelled'
    | 'job:abandoned'
    | 'notify'
    | 'db:down'
    | 'db:up'
    | 'listen'
    | 'role'
    | 'throttle';
  job?: JobName;
  trigger?: 'schedule' | 'notify';
  tick?: string;
  outcome?: 'ok' | 'failed' | 'skipped' | 'cancelled';
  reason?: string;
  rows?: number;
  durationMs?: number;
  error?: string;
  view?: string;
  /** job:abandoned: the job_runs ids closed as failed. */
  runs?: number[];
  schedules?: { job: JobName; cron: string; timezone: string }[];
  /** role: what the server the daemon is connected to is now. */
  role?: ServerRole;
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
  /** The jobs wait before each batch or refresh while a standby lags more than this (default 30 s; null: never). */
  maxReplicaLag?: LagLimit | null;
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

type Outcome = Exclude<JobRun['outcome'], 'running'>;

/**
 * Runs refresh and cleanup on cron schedules. A tick that finds the same job still running
 * here is skipped; across daemons, a session advisory lock plus a (job, tick) claim in
 * boosterz_db.job_runs make each tick run once. A freshness NOTIFY triggers a refresh after a
 * debounce. Job errors are logged and retried next tick; they never stop the daemon.
 *
 * Every session it holds is its own (session.ts), with the tool's session settings: one for
 * the daemon's bookkeeping, one for LISTEN, and one per running job, which takes the job's
 * lock and runs all of the job's statements, so the lock cannot vanish while the work goes
 * on. Any of them may end (terminated, restart): a job then fails and is recorded as such,
 * LISTEN and bookkeeping reconnect, and the next tick runs.
 */
export class Daemon {
  readonly host = hostname();
  readonly pid = process.pid;
  readonly stats: Record<JobName, JobStats> = {
    refresh: { runs: {}, durationSumS: 0, durationCount: 0 },
    cleanup: { runs: {}, durationSumS: 0, durationCount: 0 },
  };
  dbUp = false;
  /** What the server is: a daemon on a hot standby stays up and runs no job until the node is promoted. */
  role: ServerRole | 'unknown' = 'unknown';
  private tasks: ScheduledTask[] = [];
  private running = new Map<JobName, { abort: AbortController; done: Promise<void> }>();
  private debounce?: NodeJS.Timeout;
  private refreshAgain = false;
  private heartbeat?: NodeJS.Timeout;
  private listener?: Session;
  private listened = false;
  private relisten?: NodeJS.Timeout;
  private control?: Promise<Session>;
  /** Outcomes that could not be written when the run ended (database away): written at the next chance. */
  private unrecorded = new Map<number, { outcome: Outcome; rows: number | null; error: string | null }>();
  private stopping = false;
  /** Fires on stop: ends the watches that follow a refresh. */
  private readonly stopped = new AbortController();

  constructor(
    private readonly sql: Sql,
    private readonly o: DaemonOptions,
  ) {}

  private get schedules() {
    return [
      { job: 'refresh' as const, cron: this.o.refreshCron, timezone: this.o.timezone },
      { job: 'cleanup' as const, cron: this.o.cleanupCron, timezone: this.o.timezone },
    ];
  }

  async start(): Promise<void> {
    await this.ping();
    if (this.dbUp && this.role === 'primary') await this.sweepAbandoned();
    for (const s of this.schedules) {
      this.tasks.push(
        schedule(s.cron, (ctx) => void this.run(s.job, 'schedule', ctx.date), { timezone: s.timezone, name: `boosterz-${s.job}` }),
      );
    }
    this.heartbeat = setInterval(() => void this.ping(), 30_000);
    this.o.onEvent({ event: 'daemon:start', schedules: this.schedules });
    void this.listen();
  }

  /** The bookkeeping session, (re)opened when it has ended. */
  private async db(): Promise<Sql> {
    const p = this.control;
    const s = p && (await p.catch(() => undefined));
    if (s && !s.lost.aborted) return s.sql;
    if (this.control === p) {
      // nobody replaced it while we looked: open the next one (a failed opening is retried next call)
      const opening = openSession(this.sql, { name: 'bookkeeping' });
      opening.catch(() => undefined);
      this.control = opening;
      if (s) void s.close();
    }
    return (await this.control!).sql;
  }

  /** Checks the database, (re)creates the daemon's tables, records this daemon's schedules and any outcome not yet written. */
  private async ping(): Promise<void> {
    try {
      const db = await this.db();
      if ((await this.checkRole(db)) === 'standby') {
        if (!this.dbUp) this.o.onEvent({ event: 'db:up' });
        this.dbUp = true;
        return;
      }
      await ensureJobTables(db);
      await recordSchedules(db, this.host, this.pid, this.schedules);
      await this.flushUnrecorded(db);
      if (!this.dbUp) this.o.onEvent({ event: 'db:up' });
      this.dbUp = true;
    } catch (err) {
      if (this.dbUp || !this.heartbeat) this.o.onEvent({ event: 'db:down', error: (err as Error).message });
      this.dbUp = false;
    }
  }

  /**
   * Reads the server's role and reports a change: to `standby` (no job runs, no LISTEN: a
   * standby refuses both), or to `primary` (promoted: abandoned runs are swept, LISTEN starts,
   * and the next tick runs).
   */
  private async checkRole(db: Sql): Promise<ServerRole> {
    const role = await serverRole(db);
    const was = this.role;
    if (role === was) return role;
    this.role = role;
    if (role === 'standby') {
      this.o.onEvent({ event: 'role', role, reason: 'connected to a hot standby: no job runs here until it is promoted' });
    } else {
      this.o.onEvent({
        event: 'role',
        role,
        reason: was === 'standby' ? 'promoted to primary: jobs run from the next tick' : 'connected to the primary',
      });
      if (was === 'standby') {
        await ensureJobTables(db);
        await this.sweepAbandoned();
        if (!this.listener && !this.relisten) void this.listen();
      }
    }
    return role;
  }

  /** At start: closes the runs a dead daemon left `running` (each job whose lock is free). */
  private async sweepAbandoned(): Promise<void> {
    try {
      const db = await this.db();
      for (const job of ['refresh', 'cleanup'] as const) {
        if (!(await tryLock(db, KEYS[job]))) continue; // running elsewhere: its tick will do it
        try {
          this.reportAbandoned(job, await closeAbandonedRuns(db, job));
        } finally {
          await unlock(db, KEYS[job]);
        }
      }
    } catch (err) {
      this.o.onEvent({ event: 'db:down', error: `could not check for abandoned runs: ${(err as Error).message}` });
    }
  }

  private reportAbandoned(job: JobName, ids: number[]): void {
    if (ids.length)
      this.o.onEvent({
        event: 'job:abandoned',
        job,
        runs: ids,
        reason: 'left running by a daemon whose session is gone: recorded as failed',
      });
  }

  /** Writes the outcomes kept for later; stops at a lost connection (kept for the next chance), drops one the database refuses. */
  private async flushUnrecorded(db: Sql): Promise<void> {
    for (const [id, r] of [...this.unrecorded]) {
      try {
        await finishRun(db, id, r.outcome, r.rows, r.error);
      } catch (err) {
        if (isConnectionLoss(err)) return;
      }
      this.unrecorded.delete(id);
    }
  }

  /** Writes a run's outcome: on the job's session, else the bookkeeping one, else later (next ping or tick). */
  private async record(session: Session, id: number, outcome: Outcome, rows: number | null, error: string | null): Promise<void> {
    if (!session.lost.aborted) {
      try {
        return await finishRun(session.sql, id, outcome, rows, error);
      } catch {
        // the job's session went away: try the other one
      }
    }
    try {
      await finishRun(await this.db(), id, outcome, rows, error);
    } catch {
      this.unrecorded.set(id, { outcome, rows, error });
    }
  }

  /** LISTEN for the freshness triggers on a session of its own; when it ends, listens again (with backoff while the server is away). */
  private async listen(attempt = 0): Promise<void> {
    this.relisten = undefined;
    if (this.stopping) return;
    let s: Session | undefined;
    try {
      s = await openSession(this.sql, { name: 'listen', onNotify: (channel, view) => channel === CHANNEL && this.onNotify(view) });
      if ((await serverRole(s.sql)) === 'standby') {
        // a standby refuses LISTEN: the promotion (checkRole) starts it
        await s.close();
        return;
      }
      await s.sql.unsafe(`listen ${CHANNEL}`);
    } catch (err) {
      await s?.close();
      if (this.stopping) return;
      const delay = Math.min(30_000, 500 * 2 ** attempt);
      this.o.onEvent({ event: 'db:down', error: `LISTEN failed: ${(err as Error).message}; retry in ${(delay / 1000).toFixed(1)}s` });
      this.relisten = setTimeout(() => void this.listen(attempt + 1), delay);
      return;
    }
    if (this.stopping) return void (await s.close());
    this.listener = s;
    const session = s;
    session.lost.addEventListener(
      'abort',
      () => {
        if (this.listener === session) this.listener = undefined;
        if (this.stopping) return;
        this.o.onEvent({ event: 'db:down', error: `the LISTEN session (pid ${session.pid}) ended; listening again` });
        this.relisten = setTimeout(() => void this.listen(), 0);
      },
      { once: true },
    );
    this.o.onEvent({ event: 'listen', reason: `listening on ${CHANNEL}` });
    // notifications sent while no session listened are lost: catch up with one refresh
    if (this.listened) this.scheduleRefresh();
    this.listened = true;
  }

  private onNotify(view: string): void {
    this.o.onEvent({ event: 'notify', view });
    this.scheduleRefresh();
  }

  /** One refresh after the debounce (or after the running one). */
  private scheduleRefresh(): void {
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
    let session: Session | undefined;
    let locked = false;
    try {
      // the job's own session: it takes the lock and runs every statement of the job
      session = await openSession(this.sql, { name: `${job}-job` });
      const db = session.sql;
      if ((await this.checkRole(db)) === 'standby') {
        this.count(job, 'skipped');
        return this.o.onEvent({ ...base, event: 'job:skipped', outcome: 'skipped', reason: 'this node is a hot standby' });
      }
      if (!(await tryLock(db, KEYS[job]))) {
        this.count(job, 'skipped');
        return this.o.onEvent({ ...base, event: 'job:skipped', outcome: 'skipped', reason: 'running elsewhere' });
      }
      locked = true;
      await this.flushUnrecorded(db);
      this.reportAbandoned(job, await closeAbandonedRuns(db, job));
      const id = await claimRun(db, { job, tick, trigger, host: this.host, pid: this.pid });
      if (id === undefined) {
        this.count(job, 'skipped');
        return this.o.onEvent({ ...base, event: 'job:skipped', outcome: 'skipped', reason: 'this tick already ran elsewhere' });
      }
      this.o.onEvent({ ...base, event: 'job:start' });
      try {
        const rows = await this.work(job, db, abort.signal);
        const durationMs = performance.now() - t0;
        const outcome = abort.signal.aborted ? 'cancelled' : 'ok';
        await this.record(session, id, outcome, rows, null);
        this.count(job, outcome, durationMs);
        this.o.onEvent({ ...base, event: outcome === 'ok' ? 'job:done' : 'job:cancelled', outcome, rows, durationMs });
      } catch (err) {
        const durationMs = performance.now() - t0;
        const lost = session.lost.aborted || isConnectionLoss(err);
        const outcome = abort.signal.aborted && !lost ? 'cancelled' : 'failed';
        const error = lost ? lostSession(session, err) : (err as Error).message;
        await this.record(session, id, outcome, null, error);
        this.count(job, outcome, durationMs);
        this.o.onEvent({ ...base, event: outcome === 'failed' ? 'job:failed' : 'job:cancelled', outcome, durationMs, error });
      }
    } catch (err) {
      // could not reach the database, or the session ended before the work began: logged, tried again next tick
      this.count(job, 'failed', performance.now() - t0);
      this.o.onEvent({
        ...base,
        event: 'job:failed',
        outcome: 'failed',
        error: session?.lost.aborted ? lostSession(session, err) : (err as Error).message,
      });
    } finally {
      if (session) {
        if (locked && !session.lost.aborted) await unlock(session.sql, KEYS[job]).catch(() => undefined);
        await session.close();
      }
      this.running.delete(job);
      finish();
      if (job === 'refresh' && this.refreshAgain && !this.stopping) {
        this.refreshAgain = false;
        this.onNotify('(changes during the last refresh)');
      }
    }
  }

  /** The job's statements, all on its session `db`. */
  private async work(job: JobName, db: Sql, signal: AbortSignal): Promise<number> {
    const limit = this.o.maxReplicaLag === undefined ? DEFAULT_MAX_REPLICA_LAG : this.o.maxReplicaLag;
    const throttle = limit
      ? new ReplicaThrottle(this.sql, limit, (e) => {
          if (e.type === 'throttle' && e.waitedMs === 0)
            this.o.onEvent({ event: 'throttle', job, reason: `${e.before}: standby ${e.standby} lags more than ${e.limit}, waiting` });
        })
      : undefined;
    const gate = throttle ? (what: string, s?: AbortSignal) => throttle.wait(what, s) : undefined;
    if (job === 'refresh') {
      const r = await refreshViews(db, { signal, beforeRefresh: gate });
      this.watchInFlight(await inFlightTransactions(db));
      return r.refreshed.length;
    }
    const r = await cleanup(db, {
      signal,
      batchSize: this.o.cleanupBatchSize,
      maxRuntimeMs: this.o.cleanupMaxRuntimeMs,
      beforeBatch: gate,
    });
    await pruneRuns(db, this.o.historyDays);
    return Object.values(r.tables).reduce((a, b) => a + b, 0);
  }

  /**
   * A writer still running when the refresh committed may have relied on a mark the refresh
   * cleared, and sent no NOTIFY for its own: once they have all ended, refresh again if any
   * mark is left. Runs beside the jobs, on the bookkeeping session; errors are only logged.
   */
  private watchInFlight(xids: string[]): void {
    const intervalMs = Math.min(1000, Math.max(50, this.o.refreshDebounceMs));
    staleOnceEnded(() => this.db(), xids, { intervalMs, signal: this.stopped.signal })
      .then((stale) => {
        if (stale && !this.stopping) this.onNotify('(marks left by writes in flight during the last refresh)');
      })
      .catch((err: unknown) =>
        this.o.onEvent({ event: 'db:down', error: `checking for marks after the refresh failed: ${(err as Error).message}` }),
      );
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
    this.stopped.abort();
    for (const t of this.tasks) await t.stop();
    for (const t of this.tasks) await t.destroy();
    clearTimeout(this.debounce);
    clearTimeout(this.relisten);
    clearInterval(this.heartbeat);
    const pending = [...this.running.values()];
    if (pending.length) {
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), this.o.shutdownTimeoutMs).unref());
      if ((await Promise.race([Promise.all(pending.map((p) => p.done)), timeout])) === 'timeout') {
        for (const p of pending) p.abort.abort();
        await Promise.all(pending.map((p) => p.done));
      }
    }
    await this.listener?.close();
    try {
      const db = await this.db();
      await this.flushUnrecorded(db);
      await forgetSchedules(db, this.host, this.pid);
    } catch {
      // the database is away: the schedules age out, abandoned runs are closed by the next daemon
    }
    await (await this.control?.catch(() => undefined))?.close();
    this.o.onEvent({ event: 'daemon:stop' });
  }
}

/** What a run that lost its session records: the session's end, then what the job saw. */
function lostSession(s: Session, err: unknown): string {
  return `lost the database session of the job (pid ${s.pid}), and with it the job's lock: ${(err as Error)?.message ?? String(err)}`;
}

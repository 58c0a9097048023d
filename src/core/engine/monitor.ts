import type { Sql } from '../../db/connection.js';
import type { Emit } from './events.js';
import type { Blocker, StatementRef } from './types.js';

/** What the monitor knows about the statement that is running now. */
export interface Running {
  ref: StatementRef;
  pid: number;
  startedAt: number;
  warnedBlocker?: boolean;
  lastPct?: { pct: number; at: number; phase: string; phaseStart: number; phaseStartPct: number };
}

interface Row {
  pid: number;
  wait_event_type: string | null;
  wait_event: string | null;
  phase: string | null;
  blocks_total: string | null;
  blocks_done: string | null;
  tuples_total: string | null;
  tuples_done: string | null;
  lockers_total: string | null;
  lockers_done: string | null;
  current_locker_pid: number | null;
  blockers: number[] | null;
}

const num = (v: string | null) => (v == null ? 0 : Number(v));

/** Percentage of the current CREATE INDEX phase, from blocks or tuples. */
export function phasePct(
  r: Pick<Row, 'phase' | 'blocks_total' | 'blocks_done' | 'tuples_total' | 'tuples_done' | 'lockers_total' | 'lockers_done'>,
): number | undefined {
  const frac = (done: string | null, total: string | null) => (num(total) > 0 ? Math.min(100, (100 * num(done)) / num(total)) : undefined);
  if (!r.phase) return undefined;
  if (r.phase.includes('scanning table') || r.phase.includes('scanning heap')) return frac(r.blocks_done, r.blocks_total);
  if (r.phase.startsWith('waiting')) return frac(r.lockers_done, r.lockers_total);
  return frac(r.tuples_done, r.tuples_total) ?? frac(r.blocks_done, r.blocks_total);
}

/**
 * Polls a second connection about once a second while statements run (several with --parallel,
 * each on its own backend): index build phase and percentage (pg_stat_progress_create_index)
 * with an ETA, and who each statement waits for (pg_blocking_pids, or the CONCURRENTLY build's
 * current locker).
 */
export class ProgressMonitor {
  private timer?: NodeJS.Timeout;
  private readonly running = new Map<number, Running>();
  private busy = false;

  constructor(
    private readonly sql: Sql,
    private readonly workerPid: number,
    private readonly emit: Emit,
    private readonly o: { intervalMs?: number; blockerWarnMs?: number } = {},
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.o.intervalMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Watches a statement running on backend `pid` (default: the run's working session). */
  watch(ref: StatementRef, pid = this.workerPid): void {
    this.running.set(ref.n, { ref, pid, startedAt: performance.now() });
  }

  unwatch(ref: StatementRef): void {
    this.running.delete(ref.n);
  }

  private async poll(): Promise<void> {
    if (!this.running.size || this.busy) return;
    this.busy = true;
    try {
      const runs = [...this.running.values()];
      const rows = await this.sql<Row[]>`
        select a.pid, a.wait_event_type, a.wait_event, p.phase,
               p.blocks_total::text, p.blocks_done::text, p.tuples_total::text, p.tuples_done::text,
               p.lockers_total::text, p.lockers_done::text, nullif(p.current_locker_pid, 0) as current_locker_pid,
               pg_blocking_pids(a.pid) as blockers
          from pg_stat_activity a left join pg_stat_progress_create_index p on p.pid = a.pid
         where a.pid = any(${runs.map((r) => r.pid)}::int[])`;
      for (const run of runs) {
        const r = rows.find((x) => x.pid === run.pid);
        if (r && this.running.get(run.ref.n) === run) await this.report(run, r);
      }
    } catch {
      // monitoring is best effort: the statement itself reports real errors
    } finally {
      this.busy = false;
    }
  }

  private async report(run: Running, r: Row): Promise<void> {
    const waitPids = [...new Set([...(r.blockers ?? []), ...(r.current_locker_pid ? [r.current_locker_pid] : [])])];
    const waiting = waitPids.length ? await this.blockers(waitPids) : [];
    const now = performance.now();
    const pct = phasePct(r);
    let etaMs: number | undefined;
    if (pct !== undefined && r.phase) {
      const last = run.lastPct;
      if (!last || last.phase !== r.phase) run.lastPct = { pct, at: now, phase: r.phase, phaseStart: now, phaseStartPct: pct };
      else {
        run.lastPct = { ...last, pct, at: now };
        const rate = (pct - last.phaseStartPct) / (now - last.phaseStart);
        if (rate > 0) etaMs = (100 - pct) / rate;
      }
    }
    const elapsedMs = now - run.startedAt;
    this.emit({
      type: 'progress',
      ...run.ref,
      elapsedMs: Math.round(elapsedMs),
      phase: r.phase ?? undefined,
      pct: pct === undefined ? undefined : Math.round(pct * 10) / 10,
      etaMs: etaMs === undefined ? undefined : Math.round(etaMs),
      waitEvent: r.wait_event_type ? `${r.wait_event_type}:${r.wait_event}` : undefined,
      waiting,
    });
    if (waiting.length && !run.warnedBlocker && elapsedMs > (this.o.blockerWarnMs ?? 30_000)) {
      run.warnedBlocker = true;
      this.emit({
        type: 'warning',
        message: `statement ${run.ref.n}/${run.ref.total} (${run.ref.kind} ${run.ref.target ?? ''}) has waited ${Math.round(elapsedMs / 1000)}s for: ${waiting.map(describeBlocker).join('; ')}`,
      });
    }
  }

  private async blockers(pids: number[]): Promise<Blocker[]> {
    const rows = await this.sql<
      { pid: number; application_name: string; state: string | null; xact_age_ms: number | null; query: string }[]
    >`
      select pid, application_name, state, (extract(epoch from now() - xact_start) * 1000)::float8 as xact_age_ms, left(query, 200) as query
        from pg_stat_activity where pid = any(${pids}::int[])`;
    return rows.map((b) => ({
      pid: b.pid,
      application_name: b.application_name,
      state: b.state,
      xactAgeMs: b.xact_age_ms,
      query: b.query,
    }));
  }
}

export function describeBlocker(b: Blocker): string {
  const age = b.xactAgeMs == null ? '' : `, transaction open ${Math.round(b.xactAgeMs / 1000)}s`;
  return `pid ${b.pid} (${b.application_name || 'no application_name'}, ${b.state ?? 'unknown state'}${age})`;
}

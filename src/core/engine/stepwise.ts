import { BoosterzError, ExitCode, InterruptedError, isPgError, refusedError, windowEndedError } from '../../errors.js';
import { BuildSessions } from './build-sessions.js';
import { failure } from './failure.js';
import { clearJournal, deleteHistory, journal, setState } from './history.js';
import { foreignKeysAdded } from './preflight.js';
import { checkAbort, interrupted, ref, statementChecksum, type RunContext } from './run-context.js';
import { Schedule, simulate, type Job } from './schedule.js';
import { runStep } from './step.js';
import { formatWindowLeft, jobOf } from './window.js';
import type { Script } from './types.js';

/** Refuses a resume when the file changed under a part-way run. */
async function completedBefore(s: Script, ctx: RunContext): Promise<Map<number, string>> {
  const done = await journal(ctx.conn, s.version, s.direction);
  const moved = s.statements.filter((st) => done.has(st.index) && done.get(st.index) !== statementChecksum(st));
  if (moved.length || [...done.keys()].some((i) => i >= s.statements.length)) {
    throw refusedError(
      `${s.path} changed while its ${s.direction === 'up' ? 'migration' : 'rollback'} was part-way: the journal of ${done.size} completed statement(s) no longer matches the file (first at statement ${(moved[0]?.index ?? s.statements.length) + 1})`,
      ['restore the file as it was when the run started, rerun to finish, and make the change in a new migration'],
    );
  }
  return done;
}

/**
 * Statement by statement outside a transaction; each completed statement is journaled
 * (transactional ones in the same transaction as their journal entry) so that a rerun
 * continues after the last completed one. With `parallel` > 1, index builds run side by side
 * on sessions of their own as the schedule allows (schedule.ts); with a deadline, a statement
 * whose estimate does not fit is not started: the running ones complete, then exit 7.
 * Returns how many statements it ran (those an earlier run completed are skipped).
 */
export async function runStepwise(s: Script, ctx: RunContext): Promise<number> {
  const { conn, emit, signal } = ctx;
  const started = performance.now();
  const done = await completedBefore(s, ctx);
  const fks = s.direction === 'up' ? foreignKeysAdded([s]) : [];
  checkAbort(signal, `before ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version}`);
  const inProgress = s.direction === 'up' ? 'partial' : 'rolling_back';
  await setState(conn, { version: s.version, name: s.name, checksum: s.checksum, state: inProgress, statements: s.statements.length });
  for (const st of s.statements.filter((x) => done.has(x.index)))
    emit({ type: 'statement:skip', ...ref(s, st, ctx), reason: 'completed by an earlier run' });

  const parallel = ctx.pool ? Math.max(1, ctx.parallel ?? 1) : 1;
  const estimateOf = (i: number) => ctx.estimator?.estimate(s.statements[i]).ms ?? 0;
  const jobs = s.statements.filter((st) => !done.has(st.index)).map((st) => jobOf(st, estimateOf(st.index)));
  const schedule = new Schedule(jobs, parallel);
  const sessions = parallel > 1 ? new BuildSessions(ctx.pool!, parallel, ctx.buildWorkers) : undefined;
  const running = new Map<number, { promise: Promise<void>; t0: number; estimateMs: number; area: number }>();
  // statements running × ms, per running statement: its average company (the builds side by side
  // over its life, itself included) is area / its duration
  let lastChange = performance.now();
  const integrate = () => {
    const now = performance.now();
    for (const x of running.values()) x.area += (now - lastChange) * running.size;
    lastChange = now;
  };
  let completed = done.size;
  let firstError: unknown;
  let windowStop: { index: number; estimateMs: number; leftMs: number } | undefined;

  const eta = () => {
    const now = performance.now();
    const pending = schedule.pendingJobs.map((j) => ({ ...j, estimateMs: estimateOf(j.index) }));
    // what each running statement still needs, in time alone (the schedule applies the slowdown beside others)
    const runningJobs = schedule.runningJobs.map((j) => {
      const x = running.get(j.index)!;
      return { job: j, remainingMs: x.estimateMs > 0 ? estimateOf(j.index) * Math.max(0, 1 - (now - x.t0) / x.estimateMs) : 0 };
    });
    const etaMs = simulate(pending, parallel, { running: runningJobs, slowdown: ctx.estimator?.slowdown }) + (ctx.laterMs ?? 0);
    emit({ type: 'eta', etaMs: Math.round(etaMs), left: ctx.total - ctx.offset - completed, running: running.size });
  };

  const launch = async (job: Job) => {
    const st = s.statements[job.index];
    const r = ref(s, st, ctx);
    await ctx.beforeStatement?.(r, signal);
    if (signal?.aborted) return;
    // a build starting beside others takes longer than alone (Estimator.slowdown, once measured)
    const estimateMs = ctx.estimator?.estimateBeside(st, job.build ? running.size + 1 : 1).ms ?? 0;
    if (ctx.deadline !== undefined) {
      const leftMs = ctx.deadline - Date.now();
      if (estimateMs > leftMs) {
        windowStop = { index: job.index, estimateMs, leftMs };
        return;
      }
    }
    const session = sessions && job.build ? await sessions.acquire() : undefined;
    const stCtx: RunContext = session ? { ...ctx, conn: session.conn, pid: session.pid } : ctx;
    schedule.start(job.index);
    const t0 = performance.now();
    emit({ type: 'statement:start', ...r, estimateMs, sideBySide: running.size + 1 });
    const promise = runStep(s, st, r, stCtx, conn, fks).then(
      async () => {
        integrate();
        const ms = performance.now() - t0;
        completed++;
        const beside = job.build && ms > 0 ? Math.max(1, (running.get(job.index)?.area ?? ms) / ms) : 1;
        ctx.estimator?.observe(st, ms, beside);
        await ctx.estimator?.record(conn, s, st, ms, estimateMs, Math.round(beside));
        emit({ type: 'statement:done', ...r, durationMs: ms, estimateMs });
      },
      (err: unknown) => {
        const ms = performance.now() - t0;
        if (err instanceof InterruptedError || signal?.aborted) {
          firstError ??= err instanceof InterruptedError ? err : interrupted('');
          return;
        }
        emit({
          type: 'statement:failed',
          ...r,
          durationMs: ms,
          code: isPgError(err) ? err.code : undefined,
          error: (err as Error).message,
        });
        firstError ??= err instanceof BoosterzError && err.exitCode === ExitCode.refused ? err : { st, err };
      },
    );
    integrate();
    running.set(job.index, {
      t0,
      estimateMs,
      area: 0,
      promise: promise.finally(() => {
        integrate();
        running.delete(job.index);
        schedule.finish(job.index);
        session?.release();
      }),
    });
  };

  try {
    for (;;) {
      while (!firstError && !windowStop && !signal?.aborted) {
        const next = schedule.next();
        if (!next.length) break;
        for (const job of next) {
          if (firstError || windowStop || signal?.aborted) break;
          await launch(job).catch((err: unknown) => {
            firstError ??= err instanceof BoosterzError ? err : { st: s.statements[job.index], err };
          });
        }
        eta();
      }
      if (!running.size) break;
      await Promise.race([...running.values()].map((x) => x.promise));
      if (!firstError) eta();
    }
  } finally {
    await sessions?.close();
  }

  if (signal?.aborted || firstError instanceof InterruptedError) {
    const builds = jobs.some((j) => j.build) ? '; a cancelled index build leaves an INVALID index that the rerun drops and rebuilds' : '';
    throw interrupted(
      `during ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version} (${completed} of ${s.statements.length} statements completed and journaled${builds})`,
    );
  }
  if (firstError instanceof BoosterzError) throw firstError;
  if (firstError) {
    const { st, err } = firstError as { st: Script['statements'][number]; err: unknown };
    const state = `${completed} of ${s.statements.length} statements of ${s.version} are done and journaled; fix the cause and rerun to resume at statement ${st.index + 1}`;
    throw failure(s, st, err, state);
  }
  if (windowStop) {
    const st = s.statements[windowStop.index];
    throw windowEndedError(ctx.total - ctx.offset - completed, [formatWindowLeft(s, st, windowStop.estimateMs, windowStop.leftMs)], {
      version: s.version,
      statement: st.index + 1,
    });
  }
  if (s.direction === 'up') {
    await setState(conn, {
      version: s.version,
      name: s.name,
      checksum: s.checksum,
      state: 'applied',
      durationMs: performance.now() - started,
      statements: s.statements.length,
    });
    await clearJournal(conn, s.version);
  } else {
    await deleteHistory(conn, s.version);
  }
  return s.statements.length - done.size;
}

import type { Sql } from '../../db/connection.js';
import { BoosterzError, ExitCode, interruptedError, sqlState } from '../../errors.js';
import { sleep } from '../engine/sleep.js';
import { DEFAULT_MIX, type WriteMix } from './write-schedule.js';
import { pickTargets, readUsers, sequenceState, undoWrites } from './write-targets.js';
import { startWriters, type WriterFailure, type WriterStats, type Writers } from './writers.js';
import { timeWorkloads, type Workload, type WorkloadTiming, type WorkloadVariant } from './workloads.js';

/** `bench --writers --write-rate --same-user-share`. */
export interface UnderWritesOptions {
  /** Concurrent writer sessions (default 4). */
  writers: number;
  /** Writes per second, all writers together (0: the control, no writer). */
  ratePerSec: number;
  /** Share of the writes done by the users the readers read (0..1). */
  sameUserShare: number;
  mix?: WriteMix;
  /** How long the writers write before the reads start, so that the reads meet rows already stale (default 1000 ms). */
  leadMs?: number;
}

export interface UnderWritesPhase {
  workloads: { name: string; title: string; timing: WorkloadTiming }[];
  /** Rounds of the workloads' timed runs (more than 1 when the phase had to last minWritingMs). */
  rounds: number;
  writes: WriterStats;
  /** After the migration: stale marks pending when the writers stopped (before their writes were undone). */
  staleMarks?: number;
}

export interface UnderWritesResult {
  targetPerSec: number;
  writers: number;
  mix: WriteMix;
  sameUserShare: number;
  /** Both phases together. */
  achievedPerSec: number;
  before: UnderWritesPhase;
  after: UnderWritesPhase & { staleMarks: number };
}

export interface PhaseOptions extends UnderWritesOptions {
  variant: WorkloadVariant;
  sqlDir: string;
  seed: number;
  warmup: number;
  signal?: AbortSignal;
  onPhase?: (text: string) => void;
  /**
   * The writers write at least this long (ms): the timed runs are repeated in rounds until then.
   * After the migration the reads are fast; without it the writers would write for a second or two
   * and the reads would meet few stale rows.
   */
  minWritingMs?: number;
}

const KIND_NAMES = { card_insert: 'card insert', card_update: 'card update', like: 'like', message: 'chat message', follow: 'follow' };

/** exit 1, one line: which writer, what it wrote, the server's error; the writes were undone. */
function writerFailed(f: WriterFailure): BoosterzError {
  const e = f.error as Error;
  const code = sqlState(e);
  return new BoosterzError(
    `bench under writes: writer ${f.writer} failed on a ${KIND_NAMES[f.kind]}: ${e?.message ?? String(e)}${code ? ` (SQLSTATE ${code})` : ''}; every writer stopped and their writes were undone`,
    ExitCode.checkFailed,
    ['no error is expected from these writes (likes and follows are idempotent, on new pairs): the schema or a trigger refused one'],
    { writer: f.writer, kind: f.kind, sqlState: code },
    { cause: e },
  );
}

/**
 * One under-writes phase: the read workloads timed while the writers write, then the writers
 * stopped and everything they did undone (also when a writer fails or the run is interrupted).
 */
export async function underWritesPhase(
  sql: Sql,
  workloads: readonly Workload[],
  params: ReadonlyMap<string, unknown[][]>,
  o: PhaseOptions,
): Promise<UnderWritesPhase> {
  const label = o.variant === 'plain' ? 'before' : 'after';
  const interrupted = () => interruptedError('during the under-writes run', 'the writers stopped and their writes were undone');
  if (o.signal?.aborted) throw interruptedError('before the under-writes run');
  const targets = await pickTargets(sql, o.sqlDir, { readUsers: readUsers(params.values()), seed: o.seed });
  const sequences = await sequenceState(sql);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let writers: Writers | undefined;
  let thrown: unknown;
  try {
    o.onPhase?.(
      `${label}, under writes: ${o.writers} writer(s) at ${o.ratePerSec} writes/s in total, ${Math.round(o.sameUserShare * 100)}% by the users being read`,
    );
    writers = await startWriters(sql, targets, { ...o, mix: o.mix ?? DEFAULT_MIX }, stop.signal);
    const writingSince = performance.now(); // the writers' clock started inside startWriters
    writers.failed.addEventListener('abort', onAbort, { once: true });
    if (o.ratePerSec > 0) await sleep(o.leadMs ?? 1000, stop.signal);
    const { timings, rounds } = await timeWorkloads(sql, workloads, params, o.variant, {
      warmup: o.warmup,
      untilMs: o.minWritingMs !== undefined && o.ratePerSec > 0 ? writingSince + o.minWritingMs : undefined,
      signal: stop.signal,
      onWorkload: (w, n) => o.onPhase?.(`${label}, under writes: ${w.title} × ${n}`),
    });
    const writes = await writers.stop();
    if (writers.failure) throw writerFailed(writers.failure);
    if (o.signal?.aborted) throw interrupted();
    const staleMarks =
      o.variant === 'optimized'
        ? (await sql<{ n: number }[]>`select count(*)::int as n from materialized_view_stale_marks`)[0].n
        : undefined;
    return {
      workloads: workloads.map((w) => ({ name: w.name, title: w.title, timing: timings.get(w.name)! })),
      rounds,
      writes,
      staleMarks,
    };
  } catch (err) {
    thrown = err;
    throw err;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await writers?.stop().catch(() => undefined);
    o.onPhase?.(`${label}, under writes: undoing the writes`);
    await undoWrites(sql, targets, sequences).catch((err: unknown) => {
      if (thrown === undefined) throw err;
      // the first error is the one to report; say that the undo failed too
      if (thrown instanceof BoosterzError) thrown.details.push(`the writes could not be undone: ${(err as Error).message}`);
    });
  }
}

/** The summary of both phases for BenchResult.underWrites. */
export function underWritesResult(o: UnderWritesOptions, before: UnderWritesPhase, after: UnderWritesPhase): UnderWritesResult {
  const writes = before.writes.writes + after.writes.writes;
  const ms = before.writes.durationMs + after.writes.durationMs;
  return {
    targetPerSec: o.ratePerSec,
    writers: o.writers,
    mix: o.mix ?? DEFAULT_MIX,
    sameUserShare: o.sameUserShare,
    achievedPerSec: ms > 0 ? writes / (ms / 1000) : 0,
    before,
    after: { ...after, staleMarks: after.staleMarks ?? 0 },
  };
}

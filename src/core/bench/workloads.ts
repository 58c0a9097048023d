import type { ReservedSql, Sql } from '../../db/connection.js';
import { usageError } from '../../errors.js';
import { sqlFile } from '../../db/sqlfiles.js';

export type WorkloadName = 'collection' | 'feed' | 'user_stats' | 'conversations';
/** plain: the app's query on the baseline schema; optimized: the stored function after the migration. */
export type WorkloadVariant = 'plain' | 'optimized';
export type WorkloadRow = Record<string, unknown>;

/** One of the guide's four success metrics (domain.md "The four headline workloads"). */
export interface WorkloadSpec {
  name: WorkloadName;
  title: string;
  /** The stored function the optimized variant calls (0006). */
  fn: string;
  /** Parameter names, in $1, $2... order: the same for both variants. */
  params: string[];
  /** The guide's numbers: before → target, and the reduction it expects. */
  guide: { beforeMs: number; targetMs: number; reductionPct: number };
}

export const WORKLOADS: readonly WorkloadSpec[] = [
  {
    name: 'collection',
    title: 'collection loading',
    fn: 'get_collection_with_ownership',
    params: ['user_id', 'collection_id'],
    guide: { beforeMs: 2700, targetMs: 400, reductionPct: 85 },
  },
  {
    name: 'feed',
    title: 'social feed',
    fn: 'get_social_feed',
    params: ['user_id', 'before_created_at', 'before_id', 'page_size'],
    guide: { beforeMs: 1800, targetMs: 400, reductionPct: 78 },
  },
  {
    name: 'user_stats',
    title: 'user stats',
    fn: 'get_user_stats',
    params: ['user_id'],
    guide: { beforeMs: 1200, targetMs: 60, reductionPct: 95 },
  },
  {
    name: 'conversations',
    title: 'conversations',
    fn: 'get_user_conversations',
    params: ['user_id', 'page_size'],
    guide: { beforeMs: 800, targetMs: 120, reductionPct: 85 },
  },
];

/** A workload with its SQL (src/sql/workloads/<name>.{plain,optimized,params}.sql). */
export interface Workload extends WorkloadSpec {
  sql: Record<WorkloadVariant | 'params', string>;
}

/** Reads the SQL of every workload from the tool's src/sql folder. */
export async function loadWorkloads(sqlDir: string): Promise<Workload[]> {
  const read = (name: string, kind: string) => sqlFile(sqlDir, `workloads/${name}.${kind}.sql`);
  return Promise.all(
    WORKLOADS.map(async (w) => ({
      ...w,
      sql: { plain: await read(w.name, 'plain'), optimized: await read(w.name, 'optimized'), params: await read(w.name, 'params') },
    })),
  );
}

/** The workload called `name`, or a usage error listing the known ones. */
export function findWorkload<W extends WorkloadSpec>(workloads: readonly W[], name: string): W {
  const w = workloads.find((x) => x.name === name);
  if (!w) throw usageError(`unknown workload "${name}" (${workloads.map((x) => x.name).join(', ')})`);
  return w;
}

export interface PickOptions {
  /** Same seed and same data => same parameters. */
  seed: number;
  /** How many parameter sets (one per run). */
  count: number;
  /** Share of picks among the power users (top 1% by activity); the rest are any user with data. Default 0.2. */
  powerShare?: number;
}

/**
 * Parameter sets for `count` runs of a workload: random users picked deterministically from
 * the data by the workload's params.sql, a power user sometimes, a typical user usually.
 * Each set is in $1, $2... order (see WorkloadSpec.params).
 */
export async function pickParams(sql: Sql | ReservedSql, w: Workload, o: PickOptions): Promise<unknown[][]> {
  if (!Number.isInteger(o.count) || o.count < 1) throw usageError(`invalid run count ${o.count}: expected a positive integer`);
  if (!Number.isInteger(o.seed)) throw usageError(`invalid seed ${o.seed}: expected an integer`);
  const rows = await sql.unsafe(w.sql.params, [o.seed, o.count, o.powerShare ?? 0.2]);
  return rows.map((r) => Object.values(r));
}

/** Runs one workload once and returns its rows. */
export async function runWorkload(
  sql: Sql | ReservedSql,
  w: Workload,
  variant: WorkloadVariant,
  params: unknown[],
): Promise<WorkloadRow[]> {
  const rows = await sql.unsafe(w.sql[variant], params as never[]);
  return [...rows] as WorkloadRow[];
}

export interface WorkloadTiming {
  runs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

/** The p-th percentile (0..100) of ascending values, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Summary of run durations (ms). */
export function summarize(durationsMs: readonly number[]): WorkloadTiming {
  const s = [...durationsMs].sort((a, b) => a - b);
  return {
    runs: s.length,
    p50Ms: percentile(s, 50),
    p95Ms: percentile(s, 95),
    p99Ms: percentile(s, 99),
    meanMs: s.length ? s.reduce((a, b) => a + b, 0) / s.length : Number.NaN,
    maxMs: s.length ? s[s.length - 1] : Number.NaN,
  };
}

/**
 * Runs a workload once per parameter set, one after the other, and times each run from the
 * client (round trip included). Stops between runs when the signal fires.
 */
export async function timeWorkload(
  sql: Sql | ReservedSql,
  w: Workload,
  variant: WorkloadVariant,
  paramSets: readonly unknown[][],
  o: { signal?: AbortSignal; onRun?: (r: { index: number; total: number; ms: number; rows: number }) => void } = {},
): Promise<WorkloadTiming & { durationsMs: number[] }> {
  const durationsMs: number[] = [];
  for (const [index, params] of paramSets.entries()) {
    if (o.signal?.aborted) break;
    const t0 = performance.now();
    const rows = await runWorkload(sql, w, variant, params);
    const ms = performance.now() - t0;
    durationsMs.push(ms);
    o.onRun?.({ index, total: paramSets.length, ms, rows: rows.length });
  }
  return { ...summarize(durationsMs), durationsMs };
}

/**
 * Each workload in turn: `warmup` untimed runs, then one timed run per remaining parameter
 * set (timeWorkload). With `untilMs` (a performance.now() time), the timed runs are repeated in
 * rounds, all workloads each round, until that time has come (at least one round). Stops between
 * runs when the signal fires.
 */
export async function timeWorkloads(
  sql: Sql | ReservedSql,
  workloads: readonly Workload[],
  params: ReadonlyMap<string, unknown[][]>,
  variant: WorkloadVariant,
  o: { warmup: number; untilMs?: number; signal?: AbortSignal; onWorkload?: (w: Workload, runs: number) => void },
): Promise<{ timings: Map<string, WorkloadTiming>; rounds: number }> {
  const durations = new Map<string, number[]>(workloads.map((w) => [w.name, []]));
  let rounds = 0;
  do {
    rounds++;
    for (const w of workloads) {
      const sets = params.get(w.name)!;
      if (rounds === 1) for (const p of sets.slice(0, o.warmup)) if (!o.signal?.aborted) await runWorkload(sql, w, variant, p);
      o.onWorkload?.(w, sets.length);
      const { durationsMs } = await timeWorkload(sql, w, variant, sets.slice(o.warmup), { signal: o.signal });
      durations.get(w.name)!.push(...durationsMs);
    }
  } while (o.untilMs !== undefined && performance.now() < o.untilMs && !o.signal?.aborted);
  return { timings: new Map([...durations].map(([name, d]) => [name, summarize(d)])), rounds };
}

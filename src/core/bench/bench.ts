import { machineInfo, type Machine } from './machine.js';
import type { Sql } from '../../db/connection.js';
import { BoosterzError, ExitCode } from '../../errors.js';
import type { Emit } from '../engine/events.js';
import { loadMigrations } from '../engine/files.js';
import { generate, type GenerateResult, type GenerateStep } from './generate.js';
import { migrate } from '../migrate.js';
import {
  loadWorkloads,
  pickParams,
  runWorkload,
  timeWorkloads,
  type Workload,
  type WorkloadRow,
  type WorkloadTiming,
} from './workloads.js';
import { firstDifference } from './compare.js';
import { applyLikePsql, hasPsql, triggerCost, type TriggerCost } from './costs.js';
import { toolTable } from '../../db/sql.js';
import {
  underWritesPhase,
  underWritesResult,
  type UnderWritesOptions,
  type UnderWritesPhase,
  type UnderWritesResult,
} from './under-writes.js';
import { OWNERSHIP, ownershipParams, runOwnership, timeOwnership, type OwnershipParams } from './ownership.js';

export interface BenchOptions {
  scale: number;
  seed?: number;
  /** Measured runs per workload and variant (after 3 warm-up runs). */
  runs?: number;
  migrationsDir: string;
  rollbackDir: string;
  sqlDir: string;
  /** Engine events of the migrate step (live progress). */
  emit: Emit;
  /** What the bench is doing now (phase lines). */
  onPhase?: (text: string) => void;
  onGenerate?: (s: GenerateStep) => void;
  signal?: AbortSignal;
  /** A second empty database for the psql floor (same data); omit to skip the floor. */
  floorDatabase?: () => Promise<{ sql: Sql; url: string }>;
  /** Measure the freshness trigger's insert cost (default true). */
  triggerCost?: boolean;
  /** The read workloads again while other sessions write (after the idle runs; the writes undone after): omit to skip. */
  underWrites?: UnderWritesOptions;
  /** Called right after the data is generated. */
  afterGenerate?: () => Promise<void>;
  /** Called right after `migrate` (the demo runs `verify` there). */
  afterMigrate?: () => Promise<void>;
}

export interface WorkloadResult {
  name: string;
  title: string;
  before: WorkloadTiming;
  after: WorkloadTiming;
  /** before p50 / after p50. */
  speedup: number;
  /** 1 - after p50 / before p50, in %. */
  reductionPct: number;
  /** The guide's numbers (the ownership checklist has a reduction only). */
  guide: { beforeMs?: number; targetMs?: number; reductionPct: number };
  /** The guide's reduction reached (p50). */
  met: boolean;
  /** Parameter sets whose optimized answer was compared with the plain query's: all identical. */
  identicalAnswers: number;
}

export interface BenchResult {
  date: string;
  machine: Machine;
  postgres: string;
  scale: number;
  seed: number;
  runs: number;
  data: { tables: GenerateResult['tables']; totalRows: number; generateMs: number; databaseBytes: number };
  migrate: { ms: number; statements: number; orphansDetached: number };
  workloads: WorkloadResult[];
  floor?: { migrateMs: number; floorMs: number; ratio: number; method: string };
  /** Insert throughput with and without the freshness trigger, with 1 and with 8 concurrent writers, marks in place and just cleared. */
  triggers?: TriggerCost[];
  /** The four read workloads while other sessions write, before and after the migration. */
  underWrites?: UnderWritesResult;
  notes: string[];
}

const WARMUP = 3;
const UNDER_WRITES_NOTES = [
  'under writes: the four read workloads again (same users, same parameters) while other sessions write at a fixed total rate (they start 1 s before the reads), each on an open-loop schedule (a writer that falls behind skips slots rather than bursting); the ownership checklist is not run under writes (it is a write itself)',
  'under writes: single-statement writes (card inserts, card quantity / collection updates, likes, chat messages, follows) in the mix shown, by default an assumed app mix (not a production measurement; --write-mix sets it), a share of them by the users being read so that their view rows go stale (after the migration those reads compute live)',
  'under writes: after the idle runs; every write is undone afterwards (tagged rows deleted, like and follow pairs deleted, updated cards restored, sequences reset, tables vacuumed), so the answer checks and the other figures see the same data',
];
/** Parameter sets per workload whose optimized answer is compared with the plain query's. */
const COMPARED = 20;

const timeAll = (sql: Sql, workloads: Workload[], params: Map<string, unknown[][]>, variant: 'plain' | 'optimized', o: BenchOptions) =>
  timeWorkloads(sql, workloads, params, variant, {
    warmup: WARMUP,
    signal: o.signal,
    onWorkload: (w, n) => o.onPhase?.(`${variant === 'plain' ? 'before' : 'after'}: ${w.title} × ${n}`),
  }).then((r) => r.timings);

/** The ownership checklist: warm-up runs, then one timed run per parameter set (each rolled back). */
async function timeOwnershipRuns(sql: Sql, sets: OwnershipParams[], variant: 'plain' | 'optimized', o: BenchOptions) {
  for (const p of sets.slice(0, WARMUP)) await runOwnership(sql, variant, p);
  o.onPhase?.(
    `${variant === 'plain' ? 'before: row by row' : 'after: batch_update_ownership'}: ${OWNERSHIP.title} × ${sets.length - WARMUP}`,
  );
  return timeOwnership(sql, variant, sets.slice(WARMUP), o.signal);
}

/** Same data on a second database, then the guide's psql -f method for what `migrate` applied. */
async function measureFloor(o: BenchOptions, migrateMs: number, seed: number): Promise<BenchResult['floor']> {
  const db = await o.floorDatabase!();
  const files = await loadMigrations(o.migrationsDir, o.rollbackDir);
  o.onPhase?.('floor: the same data on a second database');
  await applyLikePsql(db.url, db.sql, files.slice(0, 1), false);
  await generate(db.sql, { scale: o.scale, seed, sqlDir: o.sqlDir, signal: o.signal });
  const psql = await hasPsql();
  o.onPhase?.(
    `floor: applying versions 2..${files.length} ${psql ? 'with psql -v ON_ERROR_STOP=1 -f' : 'statement by statement in autocommit (no psql client found)'}`,
  );
  const t0 = performance.now();
  // what --orphans=detach does, without the audit: psql alone cannot validate the keys otherwise
  await db.sql`update cards c set checklist_card_id = null where checklist_card_id is not null and not exists (select 1 from checklist_cards k where k.id = c.checklist_card_id)`;
  await db.sql`update personal_cards c set checklist_card_id = null where checklist_card_id is not null and not exists (select 1 from checklist_cards k where k.id = c.checklist_card_id)`;
  await db.sql`update checklist_cards c set base_card_id = null where base_card_id is not null and not exists (select 1 from checklist_cards k where k.id = c.base_card_id)`;
  const floorMs = performance.now() - t0 + (await applyLikePsql(db.url, db.sql, files.slice(1), psql));
  return {
    migrateMs,
    floorMs,
    ratio: migrateMs / floorMs,
    method: psql ? 'psql -v ON_ERROR_STOP=1 -f, autocommit' : 'each statement in autocommit (no psql client)',
  };
}

/**
 * On an empty database: baseline schema, Boosterz-shaped data, the five workloads as plain
 * SQL (before), `migrate` (with live progress, orphans detached), the views refreshed, the
 * workloads through the stored functions (after), their answers checked against the plain
 * queries on the same data; optionally the psql floor and the trigger's insert cost.
 */
export async function bench(sql: Sql, o: BenchOptions): Promise<BenchResult> {
  const seed = o.seed ?? 1;
  const runs = o.runs ?? 50;
  const phase = (t: string) => o.onPhase?.(t);
  const workloads = await loadWorkloads(o.sqlDir);
  const [{ version, database }] = await sql<{ version: string; database: string }[]>`
    select current_setting('server_version') as version, current_database() as database`;

  phase('baseline schema (version 1)');
  await migrate(sql, { migrationsDir: o.migrationsDir, rollbackDir: o.rollbackDir, emit: () => undefined, to: 1, lint: false });
  phase(`generating data, scale ${o.scale}, seed ${seed}`);
  const data = await generate(sql, { scale: o.scale, seed, sqlDir: o.sqlDir, onStep: o.onGenerate, signal: o.signal });
  const [{ bytes }] = await sql<{ bytes: string }[]>`select pg_database_size(current_database())::text as bytes`;
  await o.afterGenerate?.();

  const params = new Map<string, unknown[][]>();
  for (const w of workloads) params.set(w.name, await pickParams(sql, w, { seed, count: runs + WARMUP }));
  const before = await timeAll(sql, workloads, params, 'plain', o);
  const owning = await ownershipParams(sql, o.sqlDir, { seed, count: runs + WARMUP });
  const ownBefore = await timeOwnershipRuns(sql, owning, 'plain', o);
  const uw = o.underWrites && { ...o.underWrites, sqlDir: o.sqlDir, seed, warmup: WARMUP, signal: o.signal, onPhase: o.onPhase };
  let uwBefore: UnderWritesPhase | undefined;
  if (uw) uwBefore = await underWritesPhase(sql, workloads, params, { ...uw, variant: 'plain' });

  phase('migrate (orphans detached)');
  const t0 = performance.now();
  const m = await migrate(sql, {
    migrationsDir: o.migrationsDir,
    rollbackDir: o.rollbackDir,
    emit: o.emit,
    signal: o.signal,
    database,
    orphans: 'detach',
    yes: true,
    lint: false,
  });
  const migrateMs = performance.now() - t0;
  const [{ detached }] = await sql<{ detached: number }[]>`select count(*)::int as detached from ${sql(toolTable('orphan_audit'))}`;
  await o.afterMigrate?.();

  phase('refreshing the materialized views (so the optimized path reads them rather than computing live)');
  await sql`select refresh_materialized_views(true)`;
  await sql`analyze`;
  const after = await timeAll(sql, workloads, params, 'optimized', o);
  const ownAfter = await timeOwnershipRuns(sql, owning, 'optimized', o);
  let underWrites: UnderWritesResult | undefined;
  if (uw && uwBefore) {
    phase('refreshing the materialized views, then the read workloads again under writes');
    await sql`select refresh_materialized_views(true)`;
    // the reads are fast now: repeated until the writers have written as long as before the migration (the same writes)
    const after = await underWritesPhase(sql, workloads, params, { ...uw, variant: 'optimized', minWritingMs: uwBefore.writes.durationMs });
    underWrites = underWritesResult(uw, uwBefore, after);
    await sql`select refresh_materialized_views(true)`; // the undo marked rows stale: fresh again for the comparison
  }

  phase('checking that every optimized answer equals the plain query on the same data');
  const results: WorkloadResult[] = [];
  for (const w of workloads) {
    const sets = params.get(w.name)!.slice(0, COMPARED);
    for (const p of sets) {
      const [a, b]: WorkloadRow[][] = [await runWorkload(sql, w, 'plain', p), await runWorkload(sql, w, 'optimized', p)];
      const diff = firstDifference(a, b);
      if (diff)
        throw new BoosterzError(
          `${w.title}: the optimized answer differs from the plain query for ${JSON.stringify(p)}: ${diff}`,
          ExitCode.checkFailed,
        );
    }
    const b = before.get(w.name)!;
    const a = after.get(w.name)!;
    const reductionPct = 100 * (1 - a.p50Ms / b.p50Ms);
    results.push({
      name: w.name,
      title: w.title,
      before: b,
      after: a,
      speedup: b.p50Ms / a.p50Ms,
      reductionPct,
      guide: w.guide,
      met: reductionPct >= w.guide.reductionPct,
      identicalAnswers: sets.length,
    });
  }

  const ownSets = owning.slice(0, COMPARED);
  for (const p of ownSets) {
    const [a, b] = [await runOwnership(sql, 'plain', p), await runOwnership(sql, 'optimized', p)];
    const diff = firstDifference(a.rows as WorkloadRow[], b.rows as WorkloadRow[]);
    if (diff)
      throw new BoosterzError(
        `${OWNERSHIP.title}: batch_update_ownership leaves other rows than the row-by-row statements for user ${p.userId}: ${diff}`,
        ExitCode.checkFailed,
      );
  }
  const ownReduction = 100 * (1 - ownAfter.p50Ms / ownBefore.p50Ms);
  results.push({
    name: OWNERSHIP.name,
    title: OWNERSHIP.title,
    before: ownBefore,
    after: ownAfter,
    speedup: ownBefore.p50Ms / ownAfter.p50Ms,
    reductionPct: ownReduction,
    guide: OWNERSHIP.guide,
    met: ownReduction >= OWNERSHIP.guide.reductionPct,
    identicalAnswers: ownSets.length,
  });

  const floor = o.floorDatabase ? await measureFloor(o, migrateMs, seed) : undefined;
  let triggers: TriggerCost[] | undefined;
  if (o.triggerCost !== false) {
    triggers = [];
    for (const state of ['steady', 'after-refresh'] as const)
      for (const writers of [1, 8]) {
        phase(
          `trigger cost: single-row inserts into cards with and without the freshness trigger, ${writers} concurrent writer(s), marks ${state === 'steady' ? 'in place' : 'just cleared by a refresh'}`,
        );
        triggers.push(await triggerCost(sql, { writers, state, signal: o.signal }));
      }
  }
  return {
    date: new Date().toISOString(),
    machine: machineInfo(),
    postgres: version,
    scale: o.scale,
    seed,
    runs,
    data: { tables: data.tables, totalRows: data.totalRows, generateMs: data.totalMs, databaseBytes: Number(bytes) },
    migrate: { ms: migrateMs, statements: m.plan.length, orphansDetached: detached },
    workloads: results,
    floor,
    triggers,
    underWrites,
    notes: [
      'before: the plain queries on the baseline schema (version 1); after: the stored functions of 0006 after `migrate`',
      'ownership checklist: 40 checklist cards of one collection set at once (a third to 0 copies), row by row as the app does it (one or more statements per card, each a round trip) vs one batch_update_ownership call; each run in a transaction rolled back; the rows left compared',
      'times are client-side round trips over loopback, p50/p95 over the same random users (a power user sometimes, a typical user usually) in both runs, after 3 warm-up runs',
      'the materialized views were refreshed before the after-runs and the comparison: get_user_stats reads user_stats_optimized only when no stale mark is pending, else computes live (never stale)',
      'answers compared with the plain query re-run on the migrated data (orphan references were detached by migrate, which changes e.g. distinct checklist-card counts)',
      ...(underWrites ? UNDER_WRITES_NOTES : []),
    ],
  };
}

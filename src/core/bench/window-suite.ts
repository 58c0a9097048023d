import { loadavg } from 'node:os';
import { machineInfo, type Machine } from './machine.js';
import type { Sql } from '../../db/connection.js';
import { interruptedError } from '../../errors.js';
import { median, relativeError } from '../engine/estimates.js';
import type { EngineEvent, Emit } from '../engine/events.js';
import { loadMigrations, type MigrationFile } from '../engine/files.js';
import { migrate } from '../migrate.js';
import { rollback } from '../rollback.js';
import { applyLikePsql, hasPsql } from './costs.js';
import { generate } from './generate.js';

export interface WindowSuiteOptions {
  scale: number;
  seed?: number;
  migrationsDir: string;
  rollbackDir: string;
  sqlDir: string;
  /** --parallel values to run `migrate` with (default 1, 2, 4). */
  parallel?: number[];
  /** Rounds of every method (default 3): the figures are each method's median round. */
  rounds?: number;
  /** URL of the database `sql` points at (psql -f needs it). */
  url: string;
  emit: Emit;
  onPhase?: (text: string) => void;
  signal?: AbortSignal;
}

/** Estimate against actual for one kind of statement in one run. */
export interface EstimateErrors {
  statements: number;
  medianPct: number;
  worstPct: number;
}

export interface WindowRun {
  method: string;
  parallel?: number;
  /** The median round's wall time (ms). */
  ms: number;
  /** Every round's wall time, in the order run (ms). */
  roundsMs?: number[];
  /** ms / the psql -f floor (medians). */
  ratio?: number;
  /** Each round's ms / that round's floor. */
  roundRatios?: number[];
  /** Index builds once calibrated (the costs fitted on the builds already done in this run: from the 6th build on). */
  buildErrors?: EstimateErrors;
  /** Every statement of the run. */
  allErrors?: EstimateErrors;
  /** The dry run's estimate of the whole run, made before it started. */
  estimatedMs?: number;
  statements?: number;
  /** Each index build: its estimate when it started against what it took. */
  builds?: { n: number; target?: string; estimateMs: number; actualMs: number }[];
}

export interface WindowSuiteResult {
  date: string;
  machine: Machine & { loadBefore: number[] };
  postgres: string;
  scale: number;
  seed: number;
  statements: number;
  rounds: number;
  runs: WindowRun[];
  notes: string[];
}

/** Builds calibrated on at least this many builds of the same run count for the build error. */
const CALIBRATED_AFTER = 5;

function errorsOf(rows: { estimateMs: number; actualMs: number }[]): EstimateErrors | undefined {
  if (!rows.length) return undefined;
  const e = rows.map((r) => 100 * relativeError(r.estimateMs, r.actualMs));
  return { statements: rows.length, medianPct: Math.round(median(e)!), worstPct: Math.round(Math.max(...e)) };
}

/** Runs `migrate` with `parallel`, collecting each statement's estimate against what it took. */
async function timedMigrate(sql: Sql, o: WindowSuiteOptions, parallel: number): Promise<WindowRun> {
  const dirs = { migrationsDir: o.migrationsDir, rollbackDir: o.rollbackDir };
  const plan = await migrate(sql, { ...dirs, emit: () => undefined, dryRun: true, parallel, lint: false });
  const done: Extract<EngineEvent, { type: 'statement:done' }>[] = [];
  const emit: Emit = (e) => {
    if (e.type === 'statement:done' && e.estimateMs !== undefined) done.push(e);
    o.emit(e);
  };
  const t0 = performance.now();
  await migrate(sql, { ...dirs, emit, signal: o.signal, orphans: 'detach', yes: true, lint: false, parallel, sqlDir: o.sqlDir });
  const ms = performance.now() - t0;
  const builds = done.filter((d) => d.kind === 'create index concurrently').sort((a, b) => a.n - b.n);
  const calibrated = builds.slice(CALIBRATED_AFTER).map((d) => ({ estimateMs: d.estimateMs!, actualMs: d.durationMs }));
  return {
    method: parallel > 1 ? `migrate --parallel ${parallel}` : 'migrate',
    parallel,
    statements: plan.plan.length,
    ms,
    estimatedMs: parallel > 1 ? plan.estimates?.parallelMs : plan.estimates?.oneAtATimeMs,
    buildErrors: errorsOf(calibrated),
    builds: builds.map((d) => ({ n: d.n, target: d.target, estimateMs: Math.round(d.estimateMs!), actualMs: Math.round(d.durationMs) })),
    allErrors: errorsOf(done.map((d) => ({ estimateMs: d.estimateMs!, actualMs: d.durationMs }))),
  };
}

/** Sets the orphan references to NULL (what psql -f alone needs to validate the foreign keys): once, before every method. */
async function nullOrphans(sql: Sql): Promise<void> {
  await sql`update cards c set checklist_card_id = null where checklist_card_id is not null and not exists (select 1 from checklist_cards k where k.id = c.checklist_card_id)`;
  await sql`update personal_cards c set checklist_card_id = null where checklist_card_id is not null and not exists (select 1 from checklist_cards k where k.id = c.checklist_card_id)`;
  await sql`update checklist_cards c set base_card_id = null where base_card_id is not null and not exists (select 1 from checklist_cards k where k.id = c.base_card_id)`;
}

/** The guide's method: psql -f of versions 2.. in autocommit (timed), then their rollbacks the same way, newest first (not timed). */
async function psqlFloor(sql: Sql, o: WindowSuiteOptions, files: MigrationFile[], psql: boolean): Promise<WindowRun> {
  const ms = await applyLikePsql(o.url, sql, files, psql);
  const down = [...files].reverse().map((f) => ({ ...f, path: f.rollbackPath, sql: f.rollbackSql }));
  await applyLikePsql(o.url, sql, down, psql);
  return { method: psql ? 'psql -v ON_ERROR_STOP=1 -f (the floor)' : 'each statement in autocommit (no psql client; the floor)', ms };
}

const ratio = (ms: number, floorMs: number) => Math.round((ms / floorMs) * 100) / 100;

/** One method's rounds as one row: the median round, every round's time and ratio to its round's floor. */
function combine(rounds: WindowRun[], floors?: number[]): WindowRun {
  const mid = [...rounds].sort((a, b) => a.ms - b.ms)[Math.floor((rounds.length - 1) / 2)];
  return {
    ...mid,
    roundsMs: rounds.map((r) => Math.round(r.ms)),
    roundRatios: floors ? rounds.map((r, i) => ratio(r.ms, floors[i])) : undefined,
  };
}

/**
 * The maintenance-window benchmark: on one database with the same data (orphan references set to
 * NULL once, first), in each round the guide's psql -f floor and `migrate` one build at a time and
 * with --parallel 2 and 4, each rolled back to version 1 after it (psql -f of the rollbacks for the
 * floor, `rollback` for migrate); the methods' order turns each round, so that each meets the
 * machine's slow drifts at another place. Each method's figure is its median round; each round's
 * ratio is to that round's floor. Estimate errors per statement are those of the median round.
 */
export async function windowSuite(sql: Sql, o: WindowSuiteOptions): Promise<WindowSuiteResult> {
  const seed = o.seed ?? 1;
  const rounds = Math.max(1, o.rounds ?? 3);
  const phase = (t: string) => o.onPhase?.(t);
  const dirs = { migrationsDir: o.migrationsDir, rollbackDir: o.rollbackDir };
  const [{ version }] = await sql<{ version: string }[]>`select current_setting('server_version') as version`;
  const loadBefore = loadavg().map((x) => Math.round(x * 100) / 100);
  phase('baseline schema (version 1)');
  await migrate(sql, { ...dirs, emit: () => undefined, to: 1, lint: false, sqlDir: o.sqlDir });
  phase(`generating data, scale ${o.scale}, seed ${seed}`);
  await generate(sql, { scale: o.scale, seed, sqlDir: o.sqlDir, signal: o.signal });
  await nullOrphans(sql);
  await sql`vacuum analyze`; // hint bits and visibility set once for all runs, not paid by the first one
  const files = (await loadMigrations(o.migrationsDir, o.rollbackDir)).slice(1);
  const psql = await hasPsql();
  const methods: (number | 'floor')[] = ['floor', ...(o.parallel ?? [1, 2, 4])];
  const byMethod = new Map<number | 'floor', WindowRun[]>(methods.map((m) => [m, []]));
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < methods.length; k++) {
      const m = methods[(k + round) % methods.length];
      const what = m === 'floor' ? 'the floor: psql -f of versions 2..' : m > 1 ? `migrate --parallel ${m}` : 'migrate (one at a time)';
      phase(`round ${round + 1} of ${rounds}: ${what}`);
      if (o.signal?.aborted) throw interruptedError('during the window suite');
      if (m === 'floor') byMethod.get(m)!.push(await psqlFloor(sql, o, files, psql));
      else {
        byMethod.get(m)!.push(await timedMigrate(sql, o, m));
        await rollback(sql, { ...dirs, emit: () => undefined, to: 1 });
      }
      await sql`vacuum analyze`;
    }
  }
  const floors = byMethod.get('floor')!.map((r) => r.ms);
  const floor = combine(byMethod.get('floor')!);
  const runs = methods.slice(1).map((m) => combine(byMethod.get(m)!, floors));
  for (const r of runs) r.ratio = ratio(r.ms, floor.ms);
  return {
    date: new Date().toISOString(),
    machine: { ...machineInfo(), loadBefore },
    postgres: version,
    scale: o.scale,
    seed,
    statements: runs[0]?.statements ?? 0,
    rounds,
    runs: [floor, ...runs],
    notes: [
      "one database, the same data for every run (orphan references set to NULL once, before all runs): every run is rolled back to version 1 after it; the methods take turns, their order turning each round; each figure is the method's median round, each round ratio is to that round's floor",
      `estimate errors: |estimate − actual| / actual per statement, the estimate made when the statement started; builds from the ${CALIBRATED_AFTER + 1}th of each run (the rate calibrated on the builds before it)`,
      'the machine is shared with other engineers running tests: the load average before the run is in machine.loadBefore',
    ],
  };
}

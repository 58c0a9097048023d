import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReservedSql, Sql } from '../../db/connection.js';
import { withReserved } from '../../db/session.js';
import { withTransaction } from '../../db/sql.js';
import { BoosterzError, ExitCode, interruptedError, refusedError, usageError } from '../../errors.js';
import { sqlFile } from '../../db/sqlfiles.js';
import { isScale, SCALE_RANGE } from './scale.js';

/** The tables the generator fills, parents first. */
export const GENERATED_TABLES = [
  'users',
  'collections',
  'checklist_cards',
  'cards',
  'personal_cards',
  'posts',
  'post_likes',
  'post_comments',
  'follows',
  'conversations',
  'conversation_participants',
  'messages',
  'notifications',
  'sessions',
  'activity_log',
] as const;

export const DEFAULT_SEED = 1;
export const DEFAULT_ORPHANS = 0.002;

/** One file of src/sql/generate: `NN_name.sql`, run in file order. */
export interface GenerateStepFile {
  file: string;
  /** `name` of NN_name.sql: the table it fills, or the step (helpers, analyze...). */
  table: string;
  text: string;
}

export interface GenerateStepStart {
  file: string;
  table: string;
  /** 0-based position and number of steps. */
  index: number;
  total: number;
}

export interface GenerateStep extends GenerateStepStart {
  /** Rows inserted by the step (0 for steps that insert nothing). */
  rows: number;
  ms: number;
}

export interface GenerateOptions {
  /** 1 = about 9M rows (20k users, 2M cards...); 0 < scale <= 100. */
  scale: number;
  /** Same seed, same scale => same data (default 1). */
  seed?: number;
  /** Fraction of checklist_card_id / base_card_id values that point at no checklist card (default 0.002). */
  orphans?: number;
  /** The tool's src/sql folder (the steps are in its generate/ folder). */
  sqlDir: string;
  onStart?: (s: GenerateStepStart) => void;
  onStep?: (s: GenerateStep) => void;
  signal?: AbortSignal;
}

export interface GenerateResult {
  scale: number;
  seed: number;
  orphans: number;
  tables: { table: string; rows: number }[];
  totalRows: number;
  totalMs: number;
}

/** The generator's steps, in file order. */
export async function loadGenerateSteps(sqlDir: string): Promise<GenerateStepFile[]> {
  const dir = join(sqlDir, 'generate');
  const files = (await readdir(dir)).filter((f) => /^\d+_[a-z0-9_]+\.sql$/.test(f)).sort();
  if (!files.length) throw new Error(`no generator steps (NN_name.sql) in ${dir}`);
  return Promise.all(
    files.map(async (file) => ({
      file,
      table: file.replace(/^\d+_/, '').replace(/\.sql$/, ''),
      text: await sqlFile(dir, file),
    })),
  );
}

function checkOptions(o: GenerateOptions): { scale: number; seed: number; orphans: number } {
  const { scale, seed = DEFAULT_SEED, orphans = DEFAULT_ORPHANS } = o;
  if (!isScale(scale)) throw usageError(`invalid scale ${scale}: expected ${SCALE_RANGE}`);
  if (!Number.isInteger(seed) || seed < -2147483648 || seed > 2147483647) {
    throw usageError(`invalid seed ${seed}: expected a 32-bit integer`);
  }
  if (!Number.isFinite(orphans) || orphans < 0 || orphans >= 1) {
    throw usageError(`invalid orphan fraction ${orphans}: expected 0 <= orphans < 1 (0 = none)`);
  }
  return { scale, seed, orphans };
}

/** Refuses unless every target table exists (baseline applied) and is empty. */
async function checkTargets(conn: ReservedSql): Promise<void> {
  const missing: string[] = [];
  const filled: string[] = [];
  for (const table of GENERATED_TABLES) {
    const [r] = await conn`select to_regclass(${table}) is not null as present`;
    if (!r.present) {
      missing.push(table);
      continue;
    }
    const [e] = await conn`select exists (select 1 from ${conn(table)}) as filled`;
    if (e.filled) filled.push(table);
  }
  if (missing.length) {
    throw usageError(`cannot generate data: table(s) ${missing.join(', ')} missing`, [
      'apply the baseline schema first (boosterz-db migrate --to 1)',
    ]);
  }
  if (filled.length) {
    throw refusedError(`cannot generate data: table(s) ${filled.join(', ')} already have rows`, [
      'the generator fills empty tables only: use a fresh database',
    ]);
  }
}

/** Rows an INSERT step reported; 0 for any other statement. */
function insertedRows(result: unknown): number {
  const r = result as { command?: string; count?: number };
  return r.command === 'INSERT' ? Number(r.count ?? 0) : 0;
}

async function runStep(conn: ReservedSql, step: GenerateStepFile, signal?: AbortSignal): Promise<number> {
  if (signal?.aborted) throw interrupted(step);
  const q = conn.unsafe(step.text);
  const cancel = () => void q.cancel();
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    return insertedRows(await q);
  } catch (err) {
    if (signal?.aborted) throw interrupted(step);
    throw new BoosterzError(
      `data generation failed at ${step.file}: ${(err as Error).message}`,
      ExitCode.statementFailed,
      ['nothing was kept: the generation runs in one transaction'],
      { file: step.file, code: (err as { code?: string }).code },
      { cause: err },
    );
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
}

const interrupted = (step: GenerateStepFile) =>
  interruptedError(`while generating ${step.table}`, 'nothing was kept (the generation runs in one transaction)');

/**
 * Fills the baseline tables with Boosterz-shaped data, server-side (src/sql/generate), in
 * one transaction on one connection: all of it or nothing. Refuses when a table is
 * missing or already has rows. Deterministic for a given scale, seed and orphan fraction.
 */
export async function generate(sql: Sql, o: GenerateOptions): Promise<GenerateResult> {
  const { scale, seed, orphans } = checkOptions(o);
  const steps = await loadGenerateSteps(o.sqlDir);
  const t0 = performance.now();
  return withReserved(sql, async (conn) => {
    return withTransaction(conn, {}, async () => {
      await checkTargets(conn);
      await conn`select set_config('boosterz.scale', ${String(scale)}, true),
                        set_config('boosterz.seed', ${String(seed)}, true),
                        set_config('boosterz.orphans', ${String(orphans)}, true)`;
      for (const [index, step] of steps.entries()) {
        const at = { file: step.file, table: step.table, index, total: steps.length };
        o.onStart?.(at);
        const started = performance.now();
        const rows = await runStep(conn, step, o.signal);
        o.onStep?.({ ...at, rows, ms: performance.now() - started });
      }
      const tables: GenerateResult['tables'] = [];
      for (const table of GENERATED_TABLES) {
        const [r] = await conn`select count(*)::bigint as n from ${conn(table)}`;
        tables.push({ table, rows: Number(r.n) });
      }
      const totalRows = tables.reduce((n, t) => n + t.rows, 0);
      return { scale, seed, orphans, tables, totalRows, totalMs: performance.now() - t0 };
    });
  });
}

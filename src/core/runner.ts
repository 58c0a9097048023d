import { createHash } from 'node:crypto';
import type { ReservedSql } from '../db/connection.js';
import { BoosterzError, ExitCode, isPgError } from './errors.js';
import type { Direction, Emit, StatementRef } from './events.js';
import { clearJournal, deleteHistory, journal, recordStatement, setState } from './history.js';
import type { Statement } from './statements.js';

/** One script to run: a migration (up) or its rollback script (down). */
export interface Script {
  version: number;
  name: string;
  /** Checksum of the migration file (recorded in the history). */
  checksum: string;
  direction: Direction;
  path: string;
  statements: Statement[];
}

export interface RunContext {
  conn: ReservedSql;
  emit: Emit;
  signal?: AbortSignal;
  /** Position of the first statement of this script in the whole run. */
  offset: number;
  total: number;
}

export const isTransactional = (s: Script) => s.statements.every((st) => st.transactional);

export const statementChecksum = (st: Statement) => createHash('sha256').update(st.text).digest('hex').slice(0, 16);

export class Interrupted extends BoosterzError {
  constructor(where: string) {
    super(`interrupted ${where}: stopped at a safe point, rerun to resume`, ExitCode.interrupted);
  }
}

function ref(s: Script, st: Statement, ctx: RunContext): StatementRef {
  return { n: ctx.offset + st.index + 1, total: ctx.total, version: s.version, index: st.index, line: st.line, kind: st.kind, target: st.target, table: st.table, transactional: st.transactional };
}

function firstLine(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 160 ? `${one.slice(0, 157)}...` : one;
}

function failure(s: Script, st: Statement, err: unknown, state: string): BoosterzError {
  const pg = isPgError(err) ? err : undefined;
  const what = s.direction === 'up' ? 'migration' : 'rollback of';
  const msg = `${what} ${s.version} (${s.name}) failed at statement ${st.index + 1}/${s.statements.length}, ${s.path}:${st.line}: ${pg?.code ? `[${pg.code}] ` : ''}${(err as Error).message}`;
  const details = [`statement: ${firstLine(st.text)}`];
  if (pg?.detail) details.push(`detail: ${pg.detail}`);
  if (pg?.hint) details.push(`hint: ${pg.hint}`);
  details.push(`state: ${state}`);
  return new BoosterzError(msg, ExitCode.statementFailed, details, { version: s.version, direction: s.direction, statement: st.index + 1, code: pg?.code, state });
}

/** Runs one statement, cancelling it on the server if the signal fires. */
async function exec(conn: ReservedSql, text: string, signal?: AbortSignal): Promise<void> {
  const q = conn.unsafe(text);
  const cancel = () => void q.cancel();
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    await q;
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
  if (signal?.aborted) throw new Interrupted('after a statement completed');
}

function checkAbort(signal: AbortSignal | undefined, where: string) {
  if (signal?.aborted) throw new Interrupted(where);
}

/**
 * All statements in one transaction, with the history change: all or nothing.
 */
async function runTransactional(s: Script, ctx: RunContext): Promise<void> {
  const { conn, emit, signal } = ctx;
  checkAbort(signal, `before ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version}`);
  const started = performance.now();
  await conn.unsafe('begin');
  let current: Statement | undefined;
  try {
    for (const st of s.statements) {
      current = st;
      const t0 = performance.now();
      emit({ type: 'statement:start', ...ref(s, st, ctx) });
      await exec(conn, st.text, signal);
      emit({ type: 'statement:done', ...ref(s, st, ctx), durationMs: performance.now() - t0 });
    }
    current = undefined;
    if (s.direction === 'down') await deleteHistory(conn, s.version);
    else await setState(conn, { version: s.version, name: s.name, checksum: s.checksum, state: 'applied', durationMs: performance.now() - started, statements: s.statements.length });
    await conn.unsafe('commit');
  } catch (err) {
    await conn.unsafe('rollback').catch(() => undefined);
    if (err instanceof Interrupted || signal?.aborted) throw new Interrupted(`during ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version}; its transaction was rolled back`);
    if (!current) throw err;
    const state = `the transaction was rolled back: nothing of ${s.direction === 'up' ? 'migration' : 'the rollback of'} ${s.version} was applied`;
    if (s.direction === 'up') {
      await setState(conn, { version: s.version, name: s.name, checksum: s.checksum, state: 'failed', error: (err as Error).message }).catch(() => undefined);
    }
    throw failure(s, current, err, state);
  }
}

/** Looks up an index by (optionally qualified) name; invalid when a CONCURRENTLY build was interrupted. */
async function indexState(conn: ReservedSql, st: Statement): Promise<{ schema: string; name: string; valid: boolean } | undefined> {
  const schema: string | undefined = st.ast.relation?.schemaname;
  const name: string | undefined = st.ast.idxname;
  if (!name) return undefined;
  const rows = await conn<{ schema: string; name: string; valid: boolean }[]>`
    select n.nspname as schema, c.relname as name, i.indisvalid as valid
      from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_index i on i.indexrelid = c.oid
     where c.oid = to_regclass(case when ${schema ?? null}::text is null then quote_ident(${name}) else quote_ident(${schema ?? ''}) || '.' || quote_ident(${name}) end)`;
  return rows[0];
}

/**
 * Statement by statement outside a transaction; each completed statement is journaled
 * so that a rerun continues after the last completed one.
 */
async function runStepwise(s: Script, ctx: RunContext): Promise<void> {
  const { conn, emit, signal } = ctx;
  const started = performance.now();
  const done = await journal(conn, s.version, s.direction);
  const inProgress = s.direction === 'up' ? 'partial' : 'rolling_back';
  await setState(conn, { version: s.version, name: s.name, checksum: s.checksum, state: inProgress, statements: s.statements.length });
  let completed = done.size;
  for (const st of s.statements) {
    const r = ref(s, st, ctx);
    const sum = statementChecksum(st);
    if (done.has(st.index)) {
      emit({ type: 'statement:skip', ...r, reason: 'completed by an earlier run' });
      continue;
    }
    checkAbort(signal, `before statement ${st.index + 1} of ${s.version}`);
    const t0 = performance.now();
    emit({ type: 'statement:start', ...r });
    try {
      if (st.transactional) {
        await conn.unsafe('begin');
        try {
          await exec(conn, st.text, signal);
          await recordStatement(conn, { version: s.version, direction: s.direction, index: st.index, checksum: sum, kind: st.kind, target: st.target, durationMs: performance.now() - t0 });
          await conn.unsafe('commit');
        } catch (err) {
          await conn.unsafe('rollback').catch(() => undefined);
          throw err;
        }
      } else {
        let skip = false;
        if (st.node === 'IndexStmt') {
          const idx = await indexState(conn, st);
          if (idx && !idx.valid) {
            emit({ type: 'warning', message: `index ${idx.schema}.${idx.name} is INVALID (an interrupted CONCURRENTLY build): dropping it and building it again` });
            await exec(conn, `drop index concurrently if exists ${quoteIdent(idx.schema)}.${quoteIdent(idx.name)}`, signal);
          } else if (idx) {
            skip = true; // built by a run that died before journaling it
          }
        }
        if (!skip) await exec(conn, st.text, signal);
        await recordStatement(conn, { version: s.version, direction: s.direction, index: st.index, checksum: sum, kind: st.kind, target: st.target, durationMs: performance.now() - t0 });
      }
    } catch (err) {
      const ms = performance.now() - t0;
      if (err instanceof Interrupted || signal?.aborted) {
        throw new Interrupted(`during statement ${st.index + 1}/${s.statements.length} of ${s.version} (${completed} completed and journaled)`);
      }
      emit({ type: 'statement:failed', ...r, durationMs: ms, code: isPgError(err) ? err.code : undefined, error: (err as Error).message });
      const state = `${completed} of ${s.statements.length} statements of ${s.version} are done and journaled; fix the cause and rerun to resume at statement ${st.index + 1}`;
      throw failure(s, st, err, state);
    }
    completed++;
    emit({ type: 'statement:done', ...r, durationMs: performance.now() - t0 });
  }
  if (s.direction === 'up') {
    await setState(conn, { version: s.version, name: s.name, checksum: s.checksum, state: 'applied', durationMs: performance.now() - started, statements: s.statements.length });
    await clearJournal(conn, s.version);
  } else {
    await deleteHistory(conn, s.version);
  }
}

/** PostgreSQL identifier quoting, for names read back from the catalog. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Runs one migration or rollback script; records the outcome in the history. */
export async function runScript(s: Script, ctx: RunContext): Promise<number> {
  const t0 = performance.now();
  const transactional = isTransactional(s);
  ctx.emit({ type: 'migration:start', version: s.version, name: s.name, direction: s.direction, transactional, statements: s.statements.length });
  if (transactional) {
    await runTransactional(s, ctx);
  } else {
    await runStepwise(s, ctx);
  }
  const durationMs = performance.now() - t0;
  ctx.emit({ type: 'migration:done', version: s.version, name: s.name, direction: s.direction, durationMs, statements: s.statements.length });
  return durationMs;
}

import { createHash } from 'node:crypto';
import type { ReservedSql } from '../db/connection.js';
import { BoosterzError, ExitCode, isConnectionLoss, isPgError, refusedError, sqlState } from './errors.js';
import type { Direction, Emit, StatementRef } from './events.js';
import { clearJournal, deleteHistory, journal, recordStatement, setState } from './history.js';
import type { ProgressMonitor } from './monitor.js';
import { detachOrphans, foreignKeysAdded, type ForeignKeyAdd } from './preflight.js';
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

/** How statements that take strong locks behave (see README "Lock discipline"). */
export interface LockPolicy {
  /** lock_timeout for statements that take strong locks (ms, default 2000). */
  lockTimeoutMs?: number;
  /** Retries after a lock timeout (55P03), with exponential backoff and jitter (default 10). */
  lockRetries?: number;
  /** First retry delay in ms (default 500), doubled each time, capped at 30 s. */
  retryBaseMs?: number;
}

export interface RunContext extends LockPolicy {
  conn: ReservedSql;
  emit: Emit;
  signal?: AbortSignal;
  monitor?: ProgressMonitor;
  /** Set orphan foreign-key values to NULL (saved in boosterz_db.orphan_audit) before validating. */
  detachOrphans?: boolean;
  /** Position of the first statement of this script in the whole run. */
  offset: number;
  total: number;
}

/** VALIDATE CONSTRAINT must commit on its own: in the transaction of the ADD it would hold the ADD's strong lock while scanning. */
const needsOwnTransaction = (st: Statement) =>
  st.node === 'AlterTableStmt' && (st.ast.cmds ?? []).some((c: any) => c.AlterTableCmd?.subtype === 'AT_ValidateConstraint');

/** The script runs as one transaction: every statement can, and none must commit on its own. */
export const isTransactional = (s: Script) => s.statements.every((st) => st.transactional && !needsOwnTransaction(st));


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
  if (isConnectionLoss(err)) {
    return new BoosterzError(`lost the connection to the server during statement ${st.index + 1}/${s.statements.length} of ${s.version} (${s.name}), ${s.path}:${st.line}: ${(err as Error).message}`, ExitCode.statementFailed, [
      'the server may still be finishing that statement; the journal and history are as of the last completed statement',
      'rerun to resume (with --lock-wait 10m if the old session still holds the migration lock)',
    ], { version: s.version, direction: s.direction, statement: st.index + 1, code: (err as { code?: string }).code, lostConnection: true });
  }
  const pg = isPgError(err) ? err : undefined;
  const what = s.direction === 'up' ? 'migration' : 'rollback of';
  const msg = `${what} ${s.version} (${s.name}) failed at statement ${st.index + 1}/${s.statements.length}, ${s.path}:${st.line}: ${pg?.code ? `[${pg.code}] ` : ''}${(err as Error).message}`;
  const details = [`statement: ${firstLine(st.text)}`];
  if (pg?.detail) details.push(`detail: ${pg.detail}`);
  if (pg?.hint) details.push(`hint: ${pg.hint}`);
  if (pg?.code === '55P03') details.push('the lock stayed busy through every retry: find the blocking session (pg_stat_activity) or raise --lock-retries / --lock-timeout');
  details.push(`state: ${state}`);
  return new BoosterzError(msg, ExitCode.statementFailed, details, { version: s.version, direction: s.direction, statement: st.index + 1, code: pg?.code, state });
}

/** Runs one statement, cancelling it on the server if the signal fires; the monitor watches it. */
async function exec(ctx: RunContext, r: StatementRef | undefined, text: string): Promise<void> {
  checkAbort(ctx.signal, 'before a statement started');
  const q = ctx.conn.unsafe(text);
  const cancel = () => void Promise.resolve(q.cancel() as unknown).catch(() => undefined);
  ctx.signal?.addEventListener('abort', cancel, { once: true });
  if (r) ctx.monitor?.watch(r);
  try {
    await q;
  } finally {
    ctx.monitor?.unwatch();
    ctx.signal?.removeEventListener('abort', cancel);
  }
  // a statement that completed is kept (and journaled by the caller); the abort is honoured before the next one
}

function checkAbort(signal: AbortSignal | undefined, where: string) {
  if (signal?.aborted) throw new Interrupted(where);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((res) => {
    const done = () => { clearTimeout(t); signal?.removeEventListener('abort', done); res(); };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/** Runs fn; on a lock timeout (55P03) waits with backoff and jitter and runs it again. */
async function withLockRetries<T>(ctx: RunContext, r: StatementRef, fn: () => Promise<T>): Promise<T> {
  const retries = ctx.lockRetries ?? 10;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (sqlState(err) !== '55P03' || attempt > retries || ctx.signal?.aborted) throw err;
      const delayMs = Math.round(Math.min(30_000, (ctx.retryBaseMs ?? 500) * 2 ** (attempt - 1)) * (0.5 + Math.random()));
      ctx.emit({ type: 'retry', ...r, attempt, of: retries, delayMs, reason: (err as Error).message });
      await sleep(delayMs, ctx.signal);
      checkAbort(ctx.signal, `while waiting to retry statement ${r.n}`);
    }
  }
}

const setLocalLockTimeout = (ctx: RunContext) => ctx.conn`select set_config('lock_timeout', ${`${ctx.lockTimeoutMs ?? 2000}ms`}, true)`;

/** All statements in one transaction, with the history change: all or nothing. A lock timeout retries the whole transaction. */
async function runTransactional(s: Script, ctx: RunContext): Promise<void> {
  const { conn, emit, signal } = ctx;
  checkAbort(signal, `before ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version}`);
  let current: Statement | undefined;
  try {
    await withLockRetries(ctx, ref(s, s.statements[0] ?? ({ index: 0, line: 1, kind: 'transaction', transactional: true } as Statement), ctx), async () => {
      const started = performance.now();
      await conn.unsafe('begin');
      try {
        await setLocalLockTimeout(ctx);
        for (const st of s.statements) {
          current = st;
          const t0 = performance.now();
          emit({ type: 'statement:start', ...ref(s, st, ctx) });
          await exec(ctx, ref(s, st, ctx), st.text);
          emit({ type: 'statement:done', ...ref(s, st, ctx), durationMs: performance.now() - t0 });
        }
        if (s.direction === 'down') await deleteHistory(conn, s.version);
        else await setState(conn, { version: s.version, name: s.name, checksum: s.checksum, state: 'applied', durationMs: performance.now() - started, statements: s.statements.length });
        await conn.unsafe('commit');
      } catch (err) {
        if (!isConnectionLoss(err)) await conn.unsafe('rollback').catch(() => undefined);
        throw err;
      }
    });
  } catch (err) {
    if (err instanceof Interrupted || signal?.aborted) throw new Interrupted(`during ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version}; its transaction was rolled back`);
    if (!current) throw err; // failed before its first statement (begin / set_config): nothing ran
    const state = `the transaction was rolled back: nothing of ${s.direction === 'up' ? 'migration' : 'the rollback of'} ${s.version} was applied`;
    if (s.direction === 'up' && !isConnectionLoss(err)) {
      await setState(conn, { version: s.version, name: s.name, checksum: s.checksum, state: 'failed', error: (err as Error).message }).catch(() => undefined);
    }
    throw failure(s, current, err, state);
  }
}

/** Looks up an index by (optionally qualified) name; invalid when a CONCURRENTLY build was interrupted. */
async function indexState(conn: ReservedSql, st: Statement): Promise<{ schema: string; name: string; valid: boolean; onTable: boolean } | undefined> {
  const schema: string | undefined = st.ast.relation?.schemaname;
  const name: string | undefined = st.ast.idxname;
  if (!name) return undefined;
  const rows = await conn<{ schema: string; name: string; valid: boolean; onTable: boolean }[]>`
    select n.nspname as schema, c.relname as name, i.indisvalid as valid, i.indrelid = to_regclass(${st.table ?? ''}) as "onTable"
      from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_index i on i.indexrelid = c.oid
     where c.oid = to_regclass(case when ${schema ?? null}::text is null then quote_ident(${name}) else quote_ident(${schema ?? ''}) || '.' || quote_ident(${name}) end)`;
  return rows[0];
}

/** The foreign key a statement validates (VALIDATE CONSTRAINT, or ADD FOREIGN KEY without NOT VALID). */
function validatedForeignKey(st: Statement, fks: ForeignKeyAdd[]): ForeignKeyAdd | undefined {
  if (st.node !== 'AlterTableStmt') return undefined;
  for (const c of st.ast.cmds ?? []) {
    const cmd = c.AlterTableCmd;
    if (cmd?.subtype === 'AT_ValidateConstraint') return fks.find((f) => f.constraint === cmd.name && f.table === st.target);
    const con = cmd?.def?.Constraint;
    if (cmd?.subtype === 'AT_AddConstraint' && con?.contype === 'CONSTR_FOREIGN' && !con.skip_validation) return fks.find((f) => f.constraint === con.conname && f.table === st.target && !f.notValid);
  }
  return undefined;
}

/** A statement that PostgreSQL refuses in a transaction: reconcile what an interrupted run left, then run it. */
async function runNonTransactional(s: Script, st: Statement, r: StatementRef, ctx: RunContext): Promise<void> {
  if (st.node === 'IndexStmt') {
    const idx = await indexState(ctx.conn, st);
    if (idx && !idx.valid) {
      ctx.emit({ type: 'warning', message: `index ${idx.schema}.${idx.name} is INVALID (an interrupted CONCURRENTLY build): dropping it and building it again` });
      await exec(ctx, r, `drop index concurrently if exists ${quoteIdent(idx.schema)}.${quoteIdent(idx.name)}`);
    } else if (idx) {
      if (!idx.onTable) {
        throw refusedError(`index ${idx.schema}.${idx.name} already exists on another table than ${st.table}: rename or drop it, then rerun`);
      }
      ctx.emit({ type: 'warning', message: `index ${idx.schema}.${idx.name} already exists on ${st.table} and is valid (built by an interrupted run, or by hand): kept, not rebuilt` });
      return;
    }
  }
  await exec(ctx, r, st.text);
}

/**
 * Statement by statement outside a transaction; each completed statement is journaled
 * (transactional ones in the same transaction as their journal entry) so that a rerun
 * continues after the last completed one.
 */
async function runStepwise(s: Script, ctx: RunContext): Promise<void> {
  const { conn, emit, signal } = ctx;
  const started = performance.now();
  const done = await journal(conn, s.version, s.direction);
  const moved = s.statements.filter((st) => done.has(st.index) && done.get(st.index) !== statementChecksum(st));
  if (moved.length || [...done.keys()].some((i) => i >= s.statements.length)) {
    throw refusedError(`${s.path} changed while its ${s.direction === 'up' ? 'migration' : 'rollback'} was part-way: the journal of ${done.size} completed statement(s) no longer matches the file (first at statement ${(moved[0]?.index ?? s.statements.length) + 1})`, [
      'restore the file as it was when the run started, rerun to finish, and make the change in a new migration',
    ]);
  }
  const fks = s.direction === 'up' ? foreignKeysAdded([s]) : [];
  const inProgress = s.direction === 'up' ? 'partial' : 'rolling_back';
  checkAbort(signal, `before ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version}`);
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
    const journalIt = () => recordStatement(conn, { version: s.version, direction: s.direction, index: st.index, checksum: sum, kind: st.kind, target: st.target, durationMs: performance.now() - t0 });
    try {
      if (st.transactional) {
        const fk = ctx.detachOrphans ? validatedForeignKey(st, fks) : undefined;
        await withLockRetries(ctx, r, async () => {
          if (fk) {
            // the NOT VALID constraint already checks new writes: no new orphan can appear now
            await conn.unsafe('begin');
            try {
              await setLocalLockTimeout(ctx);
              const rows = await detachOrphans(conn, fk);
              await conn.unsafe('commit');
              if (rows) emit({ type: 'orphans:detached', table: fk.table, column: fk.columns.join(','), rows });
            } catch (err) {
              if (!isConnectionLoss(err)) await conn.unsafe('rollback').catch(() => undefined);
              throw err;
            }
          }
          await conn.unsafe('begin');
          try {
            await setLocalLockTimeout(ctx);
            await exec(ctx, r, st.text);
            await journalIt();
            await conn.unsafe('commit');
          } catch (err) {
            if (!isConnectionLoss(err)) await conn.unsafe('rollback').catch(() => undefined);
            throw err;
          }
        });
      } else {
        await runNonTransactional(s, st, r, ctx);
        await journalIt();
      }
    } catch (err) {
      const ms = performance.now() - t0;
      if (err instanceof Interrupted || signal?.aborted) {
        const cic = !st.transactional && st.node === 'IndexStmt' ? '; the cancelled index build left an INVALID index that the rerun drops and rebuilds' : '';
        throw new Interrupted(`during statement ${st.index + 1}/${s.statements.length} of ${s.version} (${completed} completed and journaled${cic})`);
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

/** PostgreSQL identifier quoting, for names read from the catalog or a parse tree. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Runs one migration or rollback script; records the outcome in the history. */
export async function runScript(s: Script, ctx: RunContext): Promise<number> {
  const t0 = performance.now();
  const transactional = isTransactional(s);
  ctx.emit({ type: 'migration:start', version: s.version, name: s.name, direction: s.direction, transactional, statements: s.statements.length });
  if (transactional) await runTransactional(s, ctx);
  else await runStepwise(s, ctx);
  const durationMs = performance.now() - t0;
  ctx.emit({ type: 'migration:done', version: s.version, name: s.name, direction: s.direction, durationMs, statements: s.statements.length });
  return durationMs;
}

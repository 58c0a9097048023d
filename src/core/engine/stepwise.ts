import { BoosterzError, ExitCode, isConnectionLoss, isPgError, refusedError } from '../../errors.js';
import { failure } from './failure.js';
import { clearJournal, deleteHistory, journal, recordStatement, setState } from './history.js';
import { runNonTransactional } from './non-transactional.js';
import { detachOrphans, foreignKeysAdded, type ForeignKeyAdd } from './preflight.js';
import { setLocalLockTimeout, withLockRetries } from './retries.js';
import { checkAbort, Interrupted, ref, statementChecksum, exec, type RunContext } from './run-context.js';
import type { Script, Statement } from './types.js';

/** The foreign key a statement validates (VALIDATE CONSTRAINT, or ADD FOREIGN KEY without NOT VALID). */
function validatedForeignKey(st: Statement, fks: ForeignKeyAdd[]): ForeignKeyAdd | undefined {
  if (st.node !== 'AlterTableStmt') return undefined;
  for (const c of st.ast.cmds ?? []) {
    const cmd = c.AlterTableCmd;
    if (cmd?.subtype === 'AT_ValidateConstraint') return fks.find((f) => f.constraint === cmd.name && f.table === st.target);
    const con = cmd?.def?.Constraint;
    if (cmd?.subtype === 'AT_AddConstraint' && con?.contype === 'CONSTR_FOREIGN' && !con.skip_validation)
      return fks.find((f) => f.constraint === con.conname && f.table === st.target && !f.notValid);
  }
  return undefined;
}

/**
 * Statement by statement outside a transaction; each completed statement is journaled
 * (transactional ones in the same transaction as their journal entry) so that a rerun
 * continues after the last completed one.
 */
export async function runStepwise(s: Script, ctx: RunContext): Promise<void> {
  const { conn, emit, signal } = ctx;
  const started = performance.now();
  const done = await journal(conn, s.version, s.direction);
  const moved = s.statements.filter((st) => done.has(st.index) && done.get(st.index) !== statementChecksum(st));
  if (moved.length || [...done.keys()].some((i) => i >= s.statements.length)) {
    throw refusedError(
      `${s.path} changed while its ${s.direction === 'up' ? 'migration' : 'rollback'} was part-way: the journal of ${done.size} completed statement(s) no longer matches the file (first at statement ${(moved[0]?.index ?? s.statements.length) + 1})`,
      ['restore the file as it was when the run started, rerun to finish, and make the change in a new migration'],
    );
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
    const journalIt = () =>
      recordStatement(conn, {
        version: s.version,
        direction: s.direction,
        index: st.index,
        checksum: sum,
        kind: st.kind,
        target: st.target,
        durationMs: performance.now() - t0,
      });
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
        const cic =
          !st.transactional && st.node === 'IndexStmt'
            ? '; the cancelled index build left an INVALID index that the rerun drops and rebuilds'
            : '';
        throw new Interrupted(
          `during statement ${st.index + 1}/${s.statements.length} of ${s.version} (${completed} completed and journaled${cic})`,
        );
      }
      emit({ type: 'statement:failed', ...r, durationMs: ms, code: isPgError(err) ? err.code : undefined, error: (err as Error).message });
      if (err instanceof BoosterzError && err.exitCode === ExitCode.refused) throw err; // refused before it ran: the reason is the message
      const state = `${completed} of ${s.statements.length} statements of ${s.version} are done and journaled; fix the cause and rerun to resume at statement ${st.index + 1}`;
      throw failure(s, st, err, state);
    }
    completed++;
    emit({ type: 'statement:done', ...r, durationMs: performance.now() - t0 });
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
}

import type { ReservedSql } from '../../db/connection.js';
import { isConnectionLoss } from '../../errors.js';
import { recordStatement } from './history.js';
import { runNonTransactional } from './non-transactional.js';
import { detachOrphans, type ForeignKeyAdd } from './preflight.js';
import { setLocalLockTimeout, withLockRetries } from './retries.js';
import { exec, statementChecksum, type RunContext } from './run-context.js';
import type { Script, Statement, StatementRef } from './types.js';

/** The foreign key a statement validates (VALIDATE CONSTRAINT, or ADD FOREIGN KEY without NOT VALID). */
export function validatedForeignKey(st: Statement, fks: ForeignKeyAdd[]): ForeignKeyAdd | undefined {
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

/** fn in a transaction on conn with the run's lock_timeout; rolled back on failure. */
async function inTransaction(ctx: RunContext, fn: () => Promise<void>): Promise<void> {
  await ctx.conn.unsafe('begin');
  try {
    await setLocalLockTimeout(ctx);
    await fn();
    await ctx.conn.unsafe('commit');
  } catch (err) {
    if (!isConnectionLoss(err)) await ctx.conn.unsafe('rollback').catch(() => undefined);
    throw err;
  }
}

/**
 * Runs one statement of a statement-by-statement migration and journals it: a transactional one
 * in the same transaction as its journal entry (after detaching orphans when it validates a
 * foreign key), any other as soon as it completed. `ctx.conn` is where it runs (an index build's
 * own session with --parallel); `journalDb` is the run's working session.
 */
export async function runStep(
  s: Script,
  st: Statement,
  r: StatementRef,
  ctx: RunContext,
  journalDb: ReservedSql,
  fks: ForeignKeyAdd[],
): Promise<void> {
  const t0 = performance.now();
  const journalIt = (db: ReservedSql) =>
    recordStatement(db, {
      version: s.version,
      direction: s.direction,
      index: st.index,
      checksum: statementChecksum(st),
      kind: st.kind,
      target: st.target,
      durationMs: performance.now() - t0,
    });
  if (!st.transactional) {
    await runNonTransactional(s, st, r, ctx);
    await journalIt(journalDb);
    return;
  }
  const fk = ctx.detachOrphans ? validatedForeignKey(st, fks) : undefined;
  await withLockRetries(ctx, r, async () => {
    if (fk) {
      // the NOT VALID constraint already checks new writes: no new orphan can appear now
      let rows = 0;
      await inTransaction(ctx, async () => {
        rows = await detachOrphans(ctx.conn, fk);
      });
      if (rows) ctx.emit({ type: 'orphans:detached', table: fk.table, column: fk.columns.join(','), rows });
    }
    await inTransaction(ctx, async () => {
      await exec(ctx, r, st.text);
      await journalIt(ctx.conn);
    });
  });
}

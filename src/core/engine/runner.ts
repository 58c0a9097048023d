import { runStepwise } from './stepwise.js';
import { runTransactional } from './transactional.js';
import { withRuntimeClasses } from './runtime-classes.js';
import type { RunContext } from './run-context.js';
import type { Script, Statement } from './types.js';

export { statementChecksum, type LockPolicy, type RunContext } from './run-context.js';

/** VALIDATE CONSTRAINT must commit on its own: in the transaction of the ADD it would hold the ADD's strong lock while scanning. */
const needsOwnTransaction = (st: Statement) =>
  st.node === 'AlterTableStmt' && (st.ast.cmds ?? []).some((c: any) => c.AlterTableCmd?.subtype === 'AT_ValidateConstraint');

/** The script runs as one transaction: every statement can, and none must commit on its own. */
export const isTransactional = (s: Script) => s.statements.every((st) => st.transactional && !needsOwnTransaction(st));

/**
 * Runs one migration or rollback script; records the outcome in the history. Returns its
 * duration and how many of its statements ran (a resumed script skips those an earlier run
 * completed).
 */
export async function runScript(script: Script, ctx: RunContext): Promise<{ durationMs: number; ran: number }> {
  const t0 = performance.now();
  const s = await withRuntimeClasses(script, ctx);
  const transactional = isTransactional(s);
  ctx.emit({
    type: 'migration:start',
    version: s.version,
    name: s.name,
    direction: s.direction,
    transactional,
    statements: s.statements.length,
  });
  let ran = s.statements.length;
  if (transactional) await runTransactional(s, ctx);
  else ran = await runStepwise(s, ctx);
  const durationMs = performance.now() - t0;
  ctx.emit({
    type: 'migration:done',
    version: s.version,
    name: s.name,
    direction: s.direction,
    durationMs,
    statements: s.statements.length,
  });
  return { durationMs, ran };
}

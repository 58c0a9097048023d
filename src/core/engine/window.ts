import type { Job } from './schedule.js';
import type { Script, Statement } from './types.js';

/** CREATE INDEX CONCURRENTLY: the only statements that run side by side. */
export const runsSideBySide = (st: Statement) => st.node === 'IndexStmt' && !!st.ast.concurrent;

/** A build of plain columns (no expression, no WHERE): PostgreSQL 14+ builds do not wait for it. */
export const plainColumns = (st: Statement) =>
  st.node === 'IndexStmt' && !st.ast.whereClause && (st.ast.indexParams ?? []).every((p: any) => !!p.IndexElem?.name);

/** A statement as the scheduler sees it. */
export function jobOf(st: Statement, estimateMs: number): Job {
  return {
    index: st.index,
    build: runsSideBySide(st),
    plain: plainColumns(st),
    table: st.table?.toLowerCase(),
    estimateMs,
  };
}

const secs = (ms: number) =>
  ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s` : `${(ms / 1000).toFixed(1)}s`;

/** Why the window stopped the run before a statement. */
export function formatWindowLeft(s: Script, st: Statement, estimateMs: number, leftMs: number): string {
  return (
    `next: statement ${st.index + 1}/${s.statements.length} of ${s.version} (${st.kind}${st.target ? ` ${st.target}` : ''}, ${s.path}:${st.line}) ` +
    `is estimated at ${secs(estimateMs)}, ${leftMs > 0 ? `${secs(leftMs)} left in the window` : 'the window has ended'}`
  );
}

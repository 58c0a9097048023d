import { quoteIdent } from '../../db/sql.js';
import { qualified } from './index-build.js';
import type { RunContext } from './run-context.js';
import type { Script, Statement } from './types.js';

/**
 * REINDEX TABLE/INDEX and CLUSTER of a partitioned table (or index) are refused in a transaction
 * block too, which only the catalog can tell: such statements run outside a transaction (with
 * lock_timeout and retries), and their migration statement by statement.
 */
export async function withRuntimeClasses(s: Script, ctx: RunContext): Promise<Script> {
  const maybe = (st: Statement) =>
    st.transactional &&
    ((st.node === 'ReindexStmt' && ['REINDEX_OBJECT_TABLE', 'REINDEX_OBJECT_INDEX'].includes(st.ast.kind)) ||
      (st.node === 'ClusterStmt' && !!st.ast.relation));
  if (!s.statements.some(maybe)) return s;
  const low = (rv: any) => String(rv?.relname ?? '').toLowerCase();
  // partitioned tables and their indexes created earlier in the same script do not exist yet
  const partitioned = new Set<string>();
  for (const st of s.statements) {
    if (st.node === 'CreateStmt' && st.ast.partspec) partitioned.add(low(st.ast.relation));
    if (st.node === 'IndexStmt' && st.ast.idxname && partitioned.has(low(st.ast.relation)))
      partitioned.add(String(st.ast.idxname).toLowerCase());
  }
  const refused = new Set<number>();
  for (const st of s.statements.filter(maybe)) {
    const rv = st.ast.relation;
    if (partitioned.has(low(rv))) refused.add(st.index);
    else {
      const name = rv.schemaname ? qualified(rv.schemaname, rv.relname) : quoteIdent(rv.relname);
      const [row] = await ctx.conn<
        { relkind: string | null }[]
      >`select (select relkind::text from pg_class where oid = to_regclass(${name})) as relkind`;
      if (row?.relkind === 'p' || row?.relkind === 'I') refused.add(st.index);
    }
  }
  if (!refused.size) return s;
  for (const i of refused) {
    const st = s.statements[i];
    const what = st.node === 'ReindexStmt' && st.ast.kind === 'REINDEX_OBJECT_INDEX' ? 'index' : 'table';
    const message =
      `${st.kind.toUpperCase()} ${st.target} at ${s.path}:${st.line} is on a partitioned ${what}: ` +
      `PostgreSQL runs it outside a transaction, so ${s.version} runs statement by statement`;
    ctx.emit({ type: 'notice', message });
  }
  return { ...s, statements: s.statements.map((st) => (refused.has(st.index) ? { ...st, transactional: false } : st)) };
}

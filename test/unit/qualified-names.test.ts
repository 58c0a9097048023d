import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadParser, splitSql } from '../../src/core/engine/statements.js';
import type { Statement } from '../../src/core/engine/types.js';

// The shipped files must not depend on the session's search_path: psql -f under
// `"$user", public` with a schema named after the role must create exactly what migrate does.
const ROOT = process.cwd();
const files = ['migrations', 'rollback'].flatMap((d) =>
  readdirSync(join(ROOT, d))
    .filter((f) => f.endsWith('.sql'))
    .map((f) => join(d, f)),
);

/** Unqualified relations a statement names outside function bodies (CTE names are not relations). */
function unqualified(st: Statement): string[] {
  const ctes = new Set<string>();
  const found: { relname: string; schemaname?: string }[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (!n || typeof n !== 'object') return;
    const o = n as Record<string, any>;
    if (o.CommonTableExpr) ctes.add(o.CommonTableExpr.ctename);
    if (o.RangeVar) found.push(o.RangeVar);
    for (const [k, v] of Object.entries(o)) {
      if (['relation', 'view', 'rel', 'pktable'].includes(k) && v?.relname) found.push(v);
      else walk(v);
    }
  };
  walk(st.ast);
  return found.filter((r) => !r.schemaname && !ctes.has(r.relname)).map((r) => r.relname);
}

beforeAll(() => loadParser());

describe.each(files)('%s', (file) => {
  const statements = () => splitSql(readFileSync(join(ROOT, file), 'utf8'), file);

  it('names every relation with its schema', () => {
    const bad = statements().flatMap((st) => unqualified(st).map((r) => `line ${st.line}: ${r}`));
    expect(bad).toEqual([]);
  });

  it("qualifies every function it creates, drops or fires, and pins each function's search_path", () => {
    for (const st of statements()) {
      if (st.node === 'CreateFunctionStmt') {
        expect((st.ast.funcname ?? []).length).toBe(2);
        const set = (st.ast.options ?? []).find((o: any) => o.DefElem?.defname === 'set');
        expect({ line: st.line, search_path: set?.DefElem?.arg?.VariableSetStmt?.name }).toEqual({
          line: st.line,
          search_path: 'search_path',
        });
      }
      if (st.node === 'CreateTrigStmt') expect(st.ast.funcname.length).toBe(2);
      if (st.node === 'DropStmt') {
        for (const o of st.ast.objects ?? []) {
          const names = o.List?.items ?? o.ObjectWithArgs?.objname ?? [];
          expect({ line: st.line, parts: names.length }).toEqual({ line: st.line, parts: st.ast.removeType === 'OBJECT_TRIGGER' ? 3 : 2 });
        }
      }
    }
  });
});

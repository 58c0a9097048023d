import type { ReservedSql, Sql } from '../../db/connection.js';
import type { Script, Statement, WriterRole } from './types.js';

type Db = Sql | ReservedSql;

const qualified = (rv: any): string | undefined => (rv?.relname ? `${rv.schemaname ?? 'public'}.${rv.relname}` : undefined);

function funcName(list: any[] | undefined): string {
  const parts = (list ?? []).map((x: any) => x?.String?.sval).filter(Boolean);
  return parts.length > 1 ? parts.join('.') : `public.${parts[0]}`;
}

/** Relations a view's query reads (CTE names left out). */
function sources(query: any): string[] {
  const ctes = new Set<string>();
  const rels = new Set<string>();
  const found: any[] = [];
  const walk = (n: any): void => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (!n || typeof n !== 'object') return;
    if (n.CommonTableExpr) ctes.add(n.CommonTableExpr.ctename);
    if (n.RangeVar) found.push(n.RangeVar);
    for (const v of Object.values(n)) walk(v);
  };
  walk(query);
  for (const rv of found) if (rv.schemaname || !ctes.has(rv.relname)) rels.add(qualified(rv)!);
  return [...rels];
}

interface Derived {
  kind: 'trigger' | 'view';
  table?: string;
  fn?: string;
  definer?: boolean;
  view?: string;
  sources?: string[];
}

/** Triggers (with whether their function runs as its owner) and views (with their sources) that the scripts create. */
export function derivedObjects(scripts: Script[]): Derived[] {
  const statements: Statement[] = scripts.flatMap((s) => s.statements);
  const definers = new Set(
    statements
      .filter((st) => st.node === 'CreateFunctionStmt')
      .filter((st) => (st.ast.options ?? []).some((o: any) => o.DefElem?.defname === 'security' && o.DefElem?.arg?.Boolean?.boolval))
      .map((st) => funcName(st.ast.funcname)),
  );
  const out: Derived[] = [];
  for (const st of statements) {
    if (st.node === 'CreateTrigStmt') {
      const fn = funcName(st.ast.funcname);
      out.push({ kind: 'trigger', table: qualified(st.ast.relation), fn, definer: definers.has(fn) });
    } else if (st.node === 'CreateTableAsStmt' && st.ast.objtype === 'OBJECT_MATVIEW') {
      // the rule of the shipped set (0004): a materialized view is granted to whoever can read all of its sources
      out.push({ kind: 'view', view: qualified(st.ast.into?.rel), sources: sources(st.ast.query) });
    }
  }
  return out;
}

/**
 * The roles that write to the tables the pending migrations touch (from the tables' ACLs;
 * owners and superusers left out), and what the run means for each: which of their writes
 * fire a new trigger and with whose rights, and which new views they will be able to read.
 */
export async function writerRoles(db: Db, scripts: Script[]): Promise<WriterRole[]> {
  const derived = derivedObjects(scripts);
  const tables = [
    ...new Set(
      scripts
        .flatMap((s) => s.statements.map((st) => st.table))
        .filter((t): t is string => !!t)
        .map((t) => (t.includes('.') ? t : `public.${t}`)),
    ),
  ];
  if (!tables.length) return [];
  const rows = await db<{ role: string; tab: string; privs: string[] }[]>`
    select case when a.grantee = 0 then 'PUBLIC' else r.rolname::text end as role, t.tab, array_agg(distinct a.privilege_type order by a.privilege_type) as privs
      from unnest(${tables}::text[]) as t(tab)
      join pg_class c on c.oid = to_regclass(t.tab)
     cross join lateral aclexplode(c.relacl) a
      left join pg_roles r on r.oid = a.grantee
     where a.privilege_type in ('INSERT', 'UPDATE', 'DELETE') and a.grantee <> c.relowner and (a.grantee = 0 or not r.rolsuper)
     group by 1, 2 order by 1, 2`;
  const roles = new Map<string, WriterRole>();
  for (const r of rows) {
    const w = roles.get(r.role) ?? { role: r.role, writes: {}, effects: [] };
    w.writes[r.tab] = r.privs;
    roles.set(r.role, w);
  }
  for (const w of roles.values()) {
    const fired = derived.filter((d) => d.kind === 'trigger' && d.table && w.writes[d.table]);
    for (const fn of new Set(fired.map((d) => d.fn!))) {
      const on = [...new Set(fired.filter((d) => d.fn === fn).map((d) => d.table!.replace(/^public\./, '')))];
      const definer = fired.find((d) => d.fn === fn)!.definer;
      w.effects.push(
        definer
          ? `its writes to ${on.join(', ')} fire ${fn}() as the function's owner (SECURITY DEFINER): no new privilege needed`
          : `its writes to ${on.join(', ')} fire ${fn}() with its own rights: it needs every privilege that function uses`,
      );
    }
    for (const v of derived.filter((d) => d.kind === 'view')) {
      const [ok] = await db<{ ok: boolean }[]>`
        select coalesce(bool_and(to_regclass(s) is not null and has_table_privilege(${w.role === 'PUBLIC' ? 'public' : w.role}, to_regclass(s), 'SELECT')), false) as ok
          from unnest(${v.sources!}::text[]) as s`;
      if (ok.ok) w.effects.push(`gets SELECT on ${v.view} (it can read every table the view is computed from)`);
    }
  }
  return [...roles.values()];
}

export const describeWriter = (w: WriterRole) =>
  `${w.role} writes ${Object.entries(w.writes)
    .map(([t, p]) => `${t.replace(/^public\./, '')} (${p.join(', ')})`)
    .join(', ')}${w.effects.length ? `; ${w.effects.join('; ')}` : ''}`;

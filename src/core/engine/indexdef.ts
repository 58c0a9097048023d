import { scanSync } from 'libpg-query';
import type { ReservedSql } from '../../db/connection.js';
import { withTransaction } from '../../db/sql.js';
import { refusedError, sqlState } from '../../errors.js';
import { loadParser } from './statements.js';
import type { Statement } from './types.js';

/** An index a migration creates, found under the same name in the database. */
export interface IndexComparison {
  schema: string;
  name: string;
  /** What the migration would create, as pg_get_indexdef prints it (name and table as in `actual`). */
  expected: string;
  /** What the database has. */
  actual: string;
  /** The existing relation is an index on the statement's table with the same definition. */
  same: boolean;
  /** Not compared: this session cannot create temporary tables (no TEMP privilege, or a read-only standby). */
  unchecked?: boolean;
}

const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * The statement with its index name and table replaced (CONCURRENTLY and IF NOT EXISTS
 * dropped), found with the real PostgreSQL scanner: `CREATE [UNIQUE] INDEX <name> ON <table> <rest>`.
 */
export function retargetIndex(st: Statement, name: string, table: string): string {
  const bytes = Buffer.from(st.text, 'utf8');
  const tokens = scanSync(st.text).tokens;
  const on = tokens.findIndex((t) => t.text.toUpperCase() === 'ON' && t.keywordName === 'RESERVED_KEYWORD');
  if (on < 0) throw new Error(`not an index definition: ${st.text.slice(0, 80)}`);
  let i = on + 1;
  if (tokens[i]?.text.toUpperCase() === 'ONLY') i++;
  while (i < tokens.length && tokens[i].text !== '(' && tokens[i].text.toUpperCase() !== 'USING') i++;
  const rest = bytes.subarray(tokens[i].start).toString('utf8');
  return `CREATE ${st.ast.unique ? 'UNIQUE ' : ''}INDEX ${quote(name)} ON ${table} ${rest}`;
}

/** pg_get_indexdef without its name and table: what the index is. */
const shape = (def: string) => def.replace(/^CREATE (UNIQUE )?INDEX .*? ON (ONLY )?.*? USING /, 'CREATE $1INDEX USING ');

/** Table, schema and index name of a CREATE INDEX statement (unqualified: schema public, as the tool's sessions resolve it). */
function names(st: Statement): { schema: string; table: string; name: string } {
  const rel = st.ast.relation ?? {};
  return { schema: rel.schemaname ?? 'public', table: rel.relname, name: st.ast.idxname };
}

/**
 * For each named CREATE INDEX whose name is taken in its schema, compares the definition the
 * statement would give with the one the database has, exactly as PostgreSQL renders both: the
 * statement is built on an empty temporary copy of its table (CREATE TEMP TABLE … (LIKE …)),
 * in a transaction that is rolled back. Statements whose table does not exist yet are skipped.
 */
export async function compareIndexes(conn: ReservedSql, statements: Statement[]): Promise<IndexComparison[]> {
  await loadParser();
  const wanted = statements.filter((s) => s.node === 'IndexStmt' && s.ast.idxname).map((st) => ({ st, ...names(st) }));
  if (!wanted.length) return [];
  const found = await conn<{ i: number; actual: string | null; onTable: boolean; isIndex: boolean; tableExists: boolean }[]>`
    select w.i, case when c.relkind in ('i', 'I') then pg_get_indexdef(c.oid) else c.relkind::text end as actual,
           coalesce(x.indrelid = t.oid, false) as "onTable", c.relkind in ('i', 'I') as "isIndex", t.oid is not null as "tableExists"
      from unnest(${wanted.map((w) => w.schema)}::text[], ${wanted.map((w) => w.name)}::text[], ${wanted.map((w) => w.table)}::text[])
             with ordinality as w(schema, name, tab, i)
      join pg_namespace n on n.nspname = w.schema
      join pg_class c on c.relnamespace = n.oid and c.relname = w.name
      left join pg_index x on x.indexrelid = c.oid
      left join pg_class t on t.relnamespace = n.oid and t.relname = w.tab and t.relkind in ('r', 'p', 'm')`;
  if (!found.length) return [];
  // every probe runs in a transaction that is rolled back: nothing of it stays
  return withTransaction(conn, { rollback: true }, async () => {
    const out: IndexComparison[] = [];
    const [can] = await conn<
      { ok: boolean }[]
    >`select has_database_privilege(current_database(), 'TEMP') and not current_setting('transaction_read_only')::bool as ok`;
    if (!can.ok)
      return found.map((f) => ({
        schema: wanted[f.i - 1].schema,
        name: wanted[f.i - 1].name,
        expected: wanted[f.i - 1].st.text,
        actual: f.actual ?? '',
        same: true,
        unchecked: true,
      }));
    await conn`select set_config('client_min_messages', 'warning', true)`;
    let k = 0;
    for (const f of found) {
      const w = wanted[f.i - 1];
      if (!f.isIndex || !f.tableExists) {
        out.push({
          schema: w.schema,
          name: w.name,
          expected: w.st.text,
          actual: f.isIndex ? f.actual! : `a relation of kind ${f.actual} (not an index)`,
          same: false,
        });
        continue;
      }
      const probe = `bz_probe_${++k}`;
      await conn.unsafe('savepoint bz_probe');
      let p: { def: string } | undefined;
      try {
        await conn.unsafe(`create temp table ${probe} (like ${quote(w.schema)}.${quote(w.table)})`);
        await conn.unsafe(retargetIndex(w.st, `${probe}_idx`, `pg_temp.${probe}`));
        [p] = await conn<{ def: string }[]>`select pg_get_indexdef(${`pg_temp.${probe}_idx`}::regclass) as def`;
        await conn.unsafe('release savepoint bz_probe');
      } catch (err) {
        if (sqlState(err) !== '42501') throw err; // LIKE needs SELECT on the table: without it, not compared
        await conn.unsafe('rollback to savepoint bz_probe');
        out.push({ schema: w.schema, name: w.name, expected: w.st.text, actual: f.actual!, same: true, unchecked: true });
        continue;
      }
      const expected = f.actual!.replace(/ USING .*$/s, '') + p.def.replace(/^.*? USING /s, ' USING ');
      out.push({ schema: w.schema, name: w.name, expected, actual: f.actual!, same: f.onTable && shape(p.def) === shape(f.actual!) });
    }
    return out;
  });
}

/** Refuses (exit 6) when a shipped index name is taken by another definition: the DBA's own index must not be adopted, nor later dropped by a rollback. */
export function refuseIndexConflicts(found: IndexComparison[]): void {
  const bad = found.filter((c) => !c.same);
  if (!bad.length) return;
  const d = (c: IndexComparison) => [`${c.schema}.${c.name}:`, `  in the database: ${c.actual}`, `  the migration:   ${c.expected}`];
  throw refusedError(
    `${bad.length} index name(s) of the migrations already exist with another definition: ${bad[0].schema}.${bad[0].name}`,
    [
      ...bad.flatMap(d),
      "the existing index is not the migration's: rename it (ALTER INDEX … RENAME TO …) or drop it if it is not needed, then rerun",
    ],
    { conflicts: bad },
  );
}

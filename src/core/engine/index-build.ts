import type { ReservedSql } from '../../db/connection.js';
import { quoteIdent } from '../../db/sql.js';
import { isConnectionLoss, refusedError } from '../../errors.js';
import { setLocalLockTimeout } from './retries.js';
import { exec, type RunContext } from './run-context.js';
import { splitIndexStatement } from './statements.js';
import type { Statement, StatementRef } from './types.js';

/** Looks up an index by (optionally qualified) name; invalid when a CONCURRENTLY build was interrupted. */
export async function indexState(
  conn: ReservedSql,
  st: Statement,
): Promise<{ schema: string; name: string; valid: boolean; onTable: boolean } | undefined> {
  const schema: string | undefined = st.ast.relation?.schemaname;
  const name: string | undefined = st.ast.idxname;
  if (!name) return undefined;
  const rows = await conn<{ schema: string; name: string; valid: boolean; onTable: boolean }[]>`
    select n.nspname as schema, c.relname as name, i.indisvalid as valid, i.indrelid = to_regclass(${st.table ?? ''}) as "onTable"
      from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_index i on i.indexrelid = c.oid
     where c.oid = to_regclass(case when ${schema ?? null}::text is null then quote_ident(${name}) else quote_ident(${schema ?? ''}) || '.' || quote_ident(${name}) end)`;
  return rows[0];
}

export const qualified = (schema: string, name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;

/** CREATE INDEX CONCURRENTLY on a partitioned table is refused by PostgreSQL: refuse first, with the recipe that works. */
async function refusePartitioned(st: Statement, ctx: RunContext): Promise<void> {
  const { table, rest } = splitIndexStatement(st.text);
  const [parent] = await ctx.conn<{ relkind: string; schema: string; name: string }[]>`
    select c.relkind, n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass(${table})`;
  if (parent?.relkind !== 'p') return;
  const tree = await ctx.conn<{ schema: string; name: string; parentName: string | null; leaf: boolean }[]>`
    select n.nspname as schema, c.relname as name, p.relname as "parentName", t.isleaf as leaf
      from pg_partition_tree(to_regclass(${table})) t join pg_class c on c.oid = t.relid join pg_namespace n on n.oid = c.relnamespace
      left join pg_class p on p.oid = t.parentrelid
     order by t.level, c.relname`;
  const unique = st.ast.unique ? 'UNIQUE ' : '';
  const base = st.ast.idxname ?? `${parent.name}_idx`;
  const idxName = (rel: string) => (rel === parent.name ? base : `${rel}_${base}`.slice(0, 63));
  const idxSchema = new Map(tree.map((t) => [t.name, t.schema]));
  const recipe = [
    `CREATE ${unique}INDEX ${quoteIdent(base)} ON ONLY ${qualified(parent.schema, parent.name)} ${rest};  -- instant; INVALID until all are attached`,
  ];
  const parts = tree.filter((t) => t.parentName);
  const shown = parts.slice(0, 20);
  for (const t of shown) {
    const own = qualified(t.schema, idxName(t.name));
    recipe.push(
      t.leaf
        ? `CREATE ${unique}INDEX CONCURRENTLY ${quoteIdent(idxName(t.name))} ON ${qualified(t.schema, t.name)} ${rest};`
        : `CREATE ${unique}INDEX ${quoteIdent(idxName(t.name))} ON ONLY ${qualified(t.schema, t.name)} ${rest};  -- sub-partitioned: same as the parent`,
    );
    recipe.push(`ALTER INDEX ${qualified(idxSchema.get(t.parentName!) ?? t.schema, idxName(t.parentName!))} ATTACH PARTITION ${own};`);
  }
  if (parts.length > shown.length) recipe.push(`… and the same two statements for the ${parts.length - shown.length} other partition(s)`);
  if (!parts.length)
    recipe.push('(no partition yet: the ON ONLY index is valid at once; each partition created or attached later gets its own)');
  throw refusedError(
    `${st.table} is a partitioned table: PostgreSQL cannot CREATE INDEX CONCURRENTLY on it (statement at line ${st.line})`,
    [
      'build the index per partition instead, each partition concurrently, then attach them (the parent index becomes valid when the last one is attached):',
      ...recipe.map((l) => `  ${l}`),
    ],
    { partitioned: st.table, recipe },
  );
}

interface ExistingIndex {
  schema: string;
  name: string;
  valid: boolean;
}

/**
 * Indexes on the table of an unnamed CREATE INDEX that have its exact definition (pg_get_indexdef
 * minus name and table): the definition is built on an empty temporary copy of the table, in a
 * transaction that is rolled back. undefined when the probe cannot run (e.g. no TEMP privilege).
 */
async function sameDefinition(st: Statement, ctx: RunContext): Promise<ExistingIndex[] | undefined> {
  const { conn } = ctx;
  const { table, rest } = splitIndexStatement(st.text);
  await conn.unsafe('begin');
  try {
    await setLocalLockTimeout(ctx);
    await conn.unsafe(`create temp table boosterz_index_probe (like ${table})`);
    await conn.unsafe(`create ${st.ast.unique ? 'unique ' : ''}index boosterz_index_probe_idx on pg_temp.boosterz_index_probe ${rest}`);
    return await conn<ExistingIndex[]>`
      with want as (
        select i.indisunique as uniq, substr(d, strpos(d, ' USING ')) as shape
          from pg_index i, pg_get_indexdef(i.indexrelid) d where i.indexrelid = 'pg_temp.boosterz_index_probe_idx'::regclass
      )
      select n.nspname as schema, c.relname as name, i.indisvalid as valid
        from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
        cross join want w cross join lateral pg_get_indexdef(i.indexrelid) d
       where i.indrelid = to_regclass(${table}) and i.indisunique = w.uniq and substr(d, strpos(d, ' USING ')) = w.shape
       order by i.indisvalid desc, c.relname`;
  } catch (err) {
    if (isConnectionLoss(err)) throw err;
    const why = (err as Error).message;
    ctx.emit({
      type: 'warning',
      message: `cannot compare the unnamed index on ${st.table} with the existing ones (${why}): building it, maybe a duplicate`,
    });
    return undefined;
  } finally {
    await conn.unsafe('rollback').catch(() => undefined);
  }
}

/**
 * Reconciles what an interrupted CREATE INDEX CONCURRENTLY left; false when there is nothing
 * left to build. A named index: INVALID is dropped and rebuilt, valid is kept. An unnamed one
 * (PostgreSQL picks a new name each time): an index with the identical definition on the table
 * counts as this one.
 */
export async function prepareIndexBuild(st: Statement, r: StatementRef, ctx: RunContext): Promise<boolean> {
  await refusePartitioned(st, ctx);
  if (!st.ast.idxname) {
    const same = await sameDefinition(st, ctx);
    if (!same?.length) return true;
    for (const i of same.filter((x) => !x.valid)) {
      const message =
        `index ${i.schema}.${i.name} has the definition of the unnamed index on ${st.table} and is INVALID ` +
        '(an interrupted CONCURRENTLY build): dropping it';
      ctx.emit({ type: 'warning', message });
      await exec(ctx, r, `drop index concurrently if exists ${qualified(i.schema, i.name)}`);
    }
    const valid = same.find((x) => x.valid);
    if (!valid) return true;
    const message =
      `index ${valid.schema}.${valid.name} on ${st.table} already has the definition of the unnamed index at line ${st.line} ` +
      '(built by an interrupted run, or by hand): kept, not built again';
    ctx.emit({ type: 'warning', message });
    return false;
  }
  const idx = await indexState(ctx.conn, st);
  if (idx && !idx.valid) {
    ctx.emit({
      type: 'warning',
      message: `index ${idx.schema}.${idx.name} is INVALID (an interrupted CONCURRENTLY build): dropping it and building it again`,
    });
    await exec(ctx, r, `drop index concurrently if exists ${qualified(idx.schema, idx.name)}`);
  } else if (idx) {
    if (!idx.onTable) {
      throw refusedError(`index ${idx.schema}.${idx.name} already exists on another table than ${st.table}: rename or drop it, then rerun`);
    }
    const message = `index ${idx.schema}.${idx.name} already exists on ${st.table} and is valid (built by an interrupted run, or by hand): kept, not rebuilt`;
    ctx.emit({ type: 'warning', message });
    return false;
  }
  return true;
}

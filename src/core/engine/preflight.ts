import type { ReservedSql, Sql } from '../../db/connection.js';
import { refusedError, type BoosterzError } from '../../errors.js';
import { TOOL_SCHEMA, quoteIdent, quoteQualified as qname } from '../../db/sql.js';
import { isConcurrentBuild } from './statements.js';
import type { OrphanCount, Script, SessionInfo } from './types.js';

type Db = Sql | ReservedSql;

/** Transactions open for more than a minute, or idle in transaction, in this database. */
export async function blockingSessions(db: Db, ownPids: number[]): Promise<SessionInfo[]> {
  return db<SessionInfo[]>`
    select pid, application_name, usename, state, (extract(epoch from now() - xact_start) * 1000)::float8 as "xactAgeMs", left(query, 200) as query
      from pg_stat_activity
     where datname = current_database() and backend_type = 'client backend' and xact_start is not null
       and pid <> all(${ownPids}::int[])
       and (state like 'idle in transaction%' or now() - xact_start > interval '1 minute')
     order by xact_start`;
}

/** A foreign key that a pending migration adds. */
export interface ForeignKeyAdd {
  version: number;
  constraint?: string;
  table: string;
  columns: string[];
  refTable: string;
  refColumns: string[];
  notValid: boolean;
}

const rel = (rv: any): string => (rv?.schemaname ? `${rv.schemaname}.${rv.relname}` : rv?.relname);
const strs = (list: any[] | undefined) => (list ?? []).map((x: any) => x?.String?.sval as string);

/** Foreign keys added by ALTER TABLE … ADD [CONSTRAINT] FOREIGN KEY in the scripts. */
export function foreignKeysAdded(scripts: Script[]): ForeignKeyAdd[] {
  const out: ForeignKeyAdd[] = [];
  for (const s of scripts) {
    for (const st of s.statements) {
      if (st.node !== 'AlterTableStmt') continue;
      for (const c of st.ast.cmds ?? []) {
        const con = c.AlterTableCmd?.def?.Constraint;
        if (c.AlterTableCmd?.subtype !== 'AT_AddConstraint' || con?.contype !== 'CONSTR_FOREIGN') continue;
        const refTable = rel(con.pktable);
        out.push({
          version: s.version,
          constraint: con.conname,
          table: rel(st.ast.relation),
          columns: strs(con.fk_attrs),
          refTable,
          refColumns: con.pk_attrs?.length ? strs(con.pk_attrs) : ['id'],
          notValid: !!con.skip_validation,
        });
      }
    }
  }
  return out;
}

function orphanPredicate(fk: ForeignKeyAdd): string {
  const notNull = fk.columns.map((c) => `t.${quoteIdent(c)} is not null`).join(' and ');
  const match = fk.columns.map((c, i) => `r.${quoteIdent(fk.refColumns[i])} = t.${quoteIdent(c)}`).join(' and ');
  return `${notNull} and not exists (select 1 from ${qname(fk.refTable)} r where ${match})`;
}

/** Counts rows whose values the new foreign key would reject (tables that exist already). */
export async function countOrphans(db: Db, fks: ForeignKeyAdd[]): Promise<OrphanCount[]> {
  const out: OrphanCount[] = [];
  for (const fk of fks) {
    const [exists] = await db<
      { ok: boolean }[]
    >`select to_regclass(${qname(fk.table)}) is not null and to_regclass(${qname(fk.refTable)}) is not null as ok`;
    if (!exists.ok) continue;
    const cols = fk.columns.map((c) => `t.${quoteIdent(c)}::text`).join(` || ',' || `);
    const rows = await db.unsafe<{ count: string; samples: string[] | null }[]>(
      `select count(*)::text as count, (array_agg(${cols} order by ${cols}))[1:5] as samples from ${qname(fk.table)} t where ${orphanPredicate(fk)}`,
    );
    const count = Number(rows[0].count);
    out.push({
      constraint: fk.constraint,
      table: fk.table,
      columns: fk.columns,
      refTable: fk.refTable,
      count,
      samples: rows[0].samples ?? [],
    });
  }
  return out;
}

export function describeOrphans(o: OrphanCount): string {
  return `${o.table}.${o.columns.join(',')} → ${o.refTable}: ${o.count} orphan row(s), e.g. ${o.samples.join(', ')}`;
}

/** Refuses (exit 6) when rows would break a new foreign key and detaching was not asked for. */
export function refuseOrphans(counts: OrphanCount[]): void {
  const bad = counts.filter((c) => c.count > 0);
  if (!bad.length) return;
  throw refusedError(
    `${bad.reduce((n, c) => n + c.count, 0)} row(s) point at rows that do not exist and would break the new foreign keys: ${describeOrphans(bad[0])}`,
    [
      ...bad.slice(1).map(describeOrphans),
      `rerun with --orphans=detach to save each orphan value in ${TOOL_SCHEMA}.orphan_audit and set it to NULL (the rollback script restores them), or fix the data first`,
    ],
    { orphans: bad },
  );
}

/**
 * Saves the orphan values of one foreign key in boosterz_db.orphan_audit and sets them to
 * NULL, in the caller's transaction. Returns the number of rows detached.
 */
export async function detachOrphans(conn: ReservedSql, fk: ForeignKeyAdd): Promise<number> {
  if (fk.columns.length !== 1)
    throw refusedError(`cannot detach orphans of the multi-column foreign key ${fk.constraint ?? fk.table}: fix the data first`);
  const [pk] = await conn<{ attname: string }[]>`
    select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
     where i.indrelid = to_regclass(${qname(fk.table)}) and i.indisprimary and i.indnatts = 1`;
  const key = pk ? `t.${quoteIdent(pk.attname)}` : 't.ctid';
  const col = quoteIdent(fk.columns[0]);
  const rows = await conn.unsafe<{ n: string }[]>(
    `with orphans as (
       select ${key} as row_key, t.${col} as old_value from ${qname(fk.table)} t where ${orphanPredicate(fk)} for update of t
     ), audit as (
       insert into ${quoteIdent(TOOL_SCHEMA)}.orphan_audit (version, table_name, row_id, column_name, old_value)
       select $1, $2, row_key::text, $3, old_value::text from orphans
     ), upd as (
       update ${qname(fk.table)} t set ${col} = null from orphans o where ${key} = o.row_key returning 1
     )
     select count(*)::text as n from upd`,
    [fk.version, fk.table, fk.columns[0]],
  );
  return Number(rows[0].n);
}

/** PostgreSQL 14.0–14.3: CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY can build corrupt indexes (fixed in 14.4). */
export const hasConcurrentBuildBug = (serverVersionNum: number) => serverVersionNum >= 140000 && serverVersionNum < 140004;

/**
 * The refusal (exit 6) of the scripts' CONCURRENTLY index builds on a server with the 14.0–14.3
 * bug, with the upgrade advice; undefined when the server is fine or nothing builds concurrently.
 */
export function concurrentBuildRefusal(serverVersionNum: number, scripts: Script[]): BoosterzError | undefined {
  if (!hasConcurrentBuildBug(serverVersionNum)) return undefined;
  const builds = scripts.flatMap((s) =>
    s.statements.filter(isConcurrentBuild).map((st) => `${s.path}:${st.line} ${st.kind} ${st.target ?? ''}`.trim()),
  );
  if (!builds.length) return undefined;
  const version = `${Math.floor(serverVersionNum / 10000)}.${serverVersionNum % 10000}`;
  const what = `PostgreSQL ${version} can build corrupt indexes with CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY (fixed in 14.4)`;
  return refusedError(
    `${what}: refusing ${builds.length} concurrent build(s), first ${builds[0]}`,
    [
      ...builds.slice(1, 5),
      ...(builds.length > 5 ? [`… and ${builds.length - 5} more`] : []),
      'upgrade the server to the latest 14.x release (a minor upgrade: new binaries and a restart, no dump and restore), then rerun',
      'indexes already built or reindexed CONCURRENTLY on 14.0–14.3 may be corrupt: after the upgrade check them with amcheck ' +
        '(bt_index_check(index, heapallindexed => true)) and REINDEX INDEX CONCURRENTLY those that fail',
    ],
    { serverVersionNum, builds },
  );
}

/** Runs concurrentBuildRefusal against the connected server: throws the refusal. */
export async function refuseConcurrentBuildBug(db: Db, scripts: Script[]): Promise<void> {
  if (!scripts.some((s) => s.statements.some(isConcurrentBuild))) return;
  const [row] = await db<{ v: number }[]>`select current_setting('server_version_num')::int as v`;
  const refusal = concurrentBuildRefusal(row.v, scripts);
  if (refusal) throw refusal;
}

/** A plain or schema-qualified name as the migrations write them (quoted names are left to the server). */
const RELATION_NAME = /^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)?$/i;

/**
 * Refuses (exit 6, before anything runs) when the connecting role does not own, directly or
 * through a role it belongs to, an existing table, index or view the scripts change: ALTER,
 * CREATE INDEX, DROP and REFRESH need the owner, and a run would otherwise stop on its first
 * such statement (a rollback part-way, with nothing undone). Superusers own everything.
 */
export async function refuseNotOwner(db: Db, scripts: Script[]): Promise<void> {
  const names = [
    ...new Set(
      scripts.flatMap((s) => s.statements.flatMap((st) => [st.table, st.target])).filter((n): n is string => !!n && RELATION_NAME.test(n)),
    ),
  ];
  if (!names.length) return;
  const rows = await db<{ name: string; owner: string; me: string }[]>`
    select c.oid::regclass::text as name, pg_get_userbyid(c.relowner) as owner, current_user as me
      from unnest(${names}::text[]) as n(name)
      join pg_class c on c.oid = to_regclass(n.name)
     where not pg_has_role(current_user, c.relowner, 'USAGE')
     group by c.oid, c.relowner
     order by 1`;
  if (!rows.length) return;
  const owners = [...new Set(rows.map((r) => r.owner))];
  const me = quoteIdent(rows[0].me);
  throw refusedError(
    `${rows[0].me} does not own ${rows.length} relation(s) the run changes (${rows
      .slice(0, 3)
      .map((r) => `${r.name} owned by ${r.owner}`)
      .join(', ')}${rows.length > 3 ? ', …' : ''}): ALTER, CREATE INDEX, DROP and REFRESH need the owner; nothing was changed`,
    [`run as ${owners.join(' / ')}, or GRANT ${owners.map(quoteIdent).join(', ')} TO ${me}`],
    { notOwned: rows.map(({ name, owner }) => ({ name, owner })) },
  );
}

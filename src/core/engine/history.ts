import type { ReservedSql, Sql } from '../../db/connection.js';
import { refusedError } from '../../errors.js';
import { TOOL_SCHEMA, toolTable } from '../../db/sql.js';
import { SQL_DIR, sqlFile } from '../../db/sqlfiles.js';

/** Schema that holds the tool's own bookkeeping; never part of the app's catalog. */
export const HISTORY_SCHEMA = TOOL_SCHEMA;

export type MigrationState = 'applied' | 'baselined' | 'partial' | 'rolling_back' | 'failed';

/** A row of boosterz_db.schema_history. */
export interface HistoryRow {
  version: number;
  name: string;
  checksum: string;
  state: MigrationState;
  applied_at: Date;
  applied_by: string;
  duration_ms: number | null;
  statements: number | null;
  error: string | null;
}

type Db = Sql | ReservedSql;

export async function historyExists(db: Db): Promise<boolean> {
  const [row] = await db<{ ok: boolean }[]>`select to_regclass(${toolTable('schema_history')}) is not null as ok`;
  return row.ok;
}

/** Tables of the application (anything outside the system schemas and ours). */
export async function userTableCount(db: Db): Promise<number> {
  const [row] = await db<{ n: number }[]>`
    select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema', ${HISTORY_SCHEMA})
       and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'`;
  return row.n;
}

/** What the current role lacks to keep the tool's history, as the statement that fixes it. */
interface HistoryAccess {
  me: string;
  database: string;
  schemaOwner: string | null;
  canCreateSchema: boolean;
  schemaUsage: boolean;
  schemaCreate: boolean;
  tables: { name: string; owner: string; missing: string[] }[];
}

/**
 * Refuses (exit 6) before anything is written when the history schema exists but this role
 * cannot use it (created earlier by another role), or cannot be created here: the message
 * names the schema, its owner and the GRANT that fixes it.
 */
async function refuseUnwritableHistory(db: Db): Promise<void> {
  const [a] = await db<HistoryAccess[]>`
    select current_user as me, current_database() as database,
           (select pg_get_userbyid(n.nspowner) from pg_namespace n where n.nspname = ${HISTORY_SCHEMA}) as "schemaOwner",
           has_database_privilege(current_database(), 'CREATE') as "canCreateSchema",
           coalesce((select has_schema_privilege(n.oid, 'USAGE') from pg_namespace n where n.nspname = ${HISTORY_SCHEMA}), false) as "schemaUsage",
           coalesce((select has_schema_privilege(n.oid, 'CREATE') from pg_namespace n where n.nspname = ${HISTORY_SCHEMA}), false) as "schemaCreate",
           coalesce((select json_agg(json_build_object('name', c.relname, 'owner', pg_get_userbyid(c.relowner),
                              'missing', array(select p from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p
                                                where not has_table_privilege(c.oid, p))) order by c.relname)
                       from pg_class c join pg_namespace n on n.oid = c.relnamespace
                      where n.nspname = ${HISTORY_SCHEMA} and c.relkind = 'r'), '[]'::json) as tables`;
  const me = quoteName(a.me);
  if (a.schemaOwner === null) {
    if (a.canCreateSchema) return;
    throw refusedError(`role ${a.me} cannot create the history schema ${HISTORY_SCHEMA} in database ${a.database}`, [
      `fix: GRANT CREATE ON DATABASE ${quoteName(a.database)} TO ${me}; (or create it for this role: CREATE SCHEMA ${HISTORY_SCHEMA} AUTHORIZATION ${me};)`,
    ]);
  }
  const fixes: string[] = [];
  if (!a.schemaUsage || !a.schemaCreate) fixes.push(`GRANT USAGE, CREATE ON SCHEMA ${HISTORY_SCHEMA} TO ${me};`);
  const tables = a.tables.filter((t) => t.missing.length);
  for (const t of tables) fixes.push(`GRANT ${t.missing.join(', ')} ON ${HISTORY_SCHEMA}.${quoteName(t.name)} TO ${me};`);
  if (!fixes.length) return;
  const what =
    !a.schemaUsage || !a.schemaCreate
      ? `schema ${HISTORY_SCHEMA} (owner ${a.schemaOwner})`
      : `${tables.map((t) => `${HISTORY_SCHEMA}.${t.name}`).join(', ')} (owner ${tables[0].owner})`;
  throw refusedError(
    `role ${a.me} cannot write the migration history: ${what} was created by another role`,
    [
      `fix, as ${a.schemaOwner} or a superuser: ${fixes.join(' ')}`,
      `or ALTER SCHEMA ${HISTORY_SCHEMA} OWNER TO ${me}; and the same for its tables, if this role is now the one that migrates`,
    ],
    { schema: HISTORY_SCHEMA, owner: a.schemaOwner, fixes },
  );
}

const quoteName = (n: string) => (/^[a-z_][a-z0-9_$]*$/.test(n) ? n : `"${n.replace(/"/g, '""')}"`);

/** What a database that has tables but no migration history needs (migrate refuses it, status says so). */
export const needsBaselineMessage = (tables?: number) =>
  `this database already has ${tables === undefined ? 'tables' : `${tables} table(s)`} but no migration history: run \`boosterz-db baseline --version V\` first`;

/** The refusal (exit 6) of a run on a database that has tables but no migration history. */
export const needsBaselineError = (tables: number) =>
  refusedError(needsBaselineMessage(tables), [
    'baseline records that the schema already is at version V (for Boosterz production: 1) without running anything;',
    'then `boosterz-db migrate` applies what comes after V',
  ]);

/**
 * Creates the history schema and tables if missing. An existing database that has
 * tables but no history is refused: it must be baselined first.
 */
export async function ensureHistory(db: Db, opts: { allowExistingTables?: boolean; sqlDir?: string } = {}): Promise<void> {
  await refuseUnwritableHistory(db);
  if (!(await historyExists(db)) && !opts.allowExistingTables) {
    const n = await userTableCount(db);
    if (n > 0) throw needsBaselineError(n);
  }
  // every statement is idempotent: an older install gets the tables it lacks
  await db.unsafe(await sqlFile(SQL_DIR, 'tool/history.sql'));
  await db.unsafe(`set local client_min_messages = warning;\n${await sqlFile(SQL_DIR, 'tool/statement_stats.sql')}`);
}

export async function readHistory(db: Db): Promise<HistoryRow[]> {
  if (!(await historyExists(db))) return [];
  return db<
    HistoryRow[]
  >`select version, name, checksum, state, applied_at, applied_by, duration_ms::float8 as duration_ms, statements, error
                            from ${db(toolTable('schema_history'))} order by version`;
}

export async function journal(db: Db, version: number, direction: 'up' | 'down'): Promise<Map<number, string>> {
  if (!(await historyExists(db))) return new Map();
  const rows = await db<{ statement_index: number; statement_checksum: string }[]>`
    select statement_index, statement_checksum from ${db(toolTable('statement_journal'))}
     where version = ${version} and direction = ${direction}`;
  return new Map(rows.map((r) => [r.statement_index, r.statement_checksum]));
}

export async function setState(
  db: Db,
  row: {
    version: number;
    name: string;
    checksum: string;
    state: MigrationState;
    durationMs?: number;
    statements?: number;
    error?: string | null;
  },
): Promise<void> {
  await db`
    insert into ${db(toolTable('schema_history'))} (version, name, checksum, state, duration_ms, statements, error)
    values (${row.version}, ${row.name}, ${row.checksum}, ${row.state}, ${row.durationMs == null ? null : Math.round(row.durationMs)}, ${row.statements ?? null}, ${row.error ?? null})
    on conflict (version) do update set name = excluded.name, checksum = excluded.checksum, state = excluded.state,
      applied_at = now(), applied_by = current_user, duration_ms = excluded.duration_ms, statements = excluded.statements, error = excluded.error`;
}

export async function recordStatement(
  db: Db,
  e: { version: number; direction: 'up' | 'down'; index: number; checksum: string; kind: string; target?: string; durationMs: number },
): Promise<void> {
  await db`
    insert into ${db(toolTable('statement_journal'))} (version, direction, statement_index, statement_checksum, kind, target, duration_ms)
    values (${e.version}, ${e.direction}, ${e.index}, ${e.checksum}, ${e.kind}, ${e.target ?? null}, ${Math.round(e.durationMs)})
    on conflict (version, direction, statement_index) do nothing`;
}

export async function clearJournal(db: Db, version: number, direction?: 'up' | 'down'): Promise<void> {
  if (direction) await db`delete from ${db(toolTable('statement_journal'))} where version = ${version} and direction = ${direction}`;
  else await db`delete from ${db(toolTable('statement_journal'))} where version = ${version}`;
}

export async function deleteHistory(db: Db, version: number): Promise<void> {
  await db`delete from ${db(toolTable('schema_history'))} where version = ${version}`;
  await clearJournal(db, version);
}

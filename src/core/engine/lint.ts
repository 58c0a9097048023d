import { readFile } from 'node:fs/promises';
import { loadParser, splitSql, stripLeadingComments } from './statements.js';
import type { Statement } from './types.js';

/** One finding: rule id and name, message, where. */
export interface LintFinding {
  id: string;
  rule: string;
  message: string;
  file: string;
  line: number;
}

/** The rules, with the opt-out name accepted in a `-- boosterz-lint: allow <name>` comment. */
export const RULES = {
  BZ001: 'index-not-concurrent',
  BZ002: 'constraint-validates-existing-rows',
  BZ003: 'concurrently-in-transaction',
  BZ004: 'drop-or-rename',
  BZ005: 'refresh-concurrently-without-unique-index',
  BZ006: 'set-without-local',
  BZ007: 'unnamed-concurrent-index',
  BZ008: 'concurrent-index-if-not-exists',
  BZ009: 'partitioned-concurrent-index',
  BZ010: 'volatile-default',
  BZ011: 'alter-column-type',
  BZ012: 'not-null-without-check',
  BZ013: 'unique-without-index',
} as const;
type RuleId = keyof typeof RULES;

/** What lint learns from earlier files (in version order). */
export interface LintMemory {
  /** Materialized views that have a unique index (REFRESH … CONCURRENTLY needs one). */
  matviewsWithUniqueIndex: Set<string>;
  matviews: Set<string>;
  /** Tables created with PARTITION BY. */
  partitioned?: Set<string>;
  /** `table.column` → a CHECK (column IS NOT NULL) (or NOT NULL NOT VALID) constraint was added; true once validated. */
  notNullChecks?: Map<string, boolean>;
  /** `table.constraint` → `table.column` of those constraints, for VALIDATE CONSTRAINT. */
  notNullConstraints?: Map<string, string>;
}

export const newMemory = (): LintMemory => ({
  matviewsWithUniqueIndex: new Set(),
  matviews: new Set(),
  partitioned: new Set(),
  notNullChecks: new Map(),
  notNullConstraints: new Map(),
});

/**
 * Functions whose result changes per row: as an ADD COLUMN default they make PostgreSQL rewrite
 * the table under ACCESS EXCLUSIVE (a constant or stable default such as now() is stored once, PG 11+).
 */
const VOLATILE_FUNCTIONS = new Set([
  'random',
  'random_normal',
  'setseed',
  'clock_timestamp',
  'timeofday',
  'gen_random_uuid',
  'uuidv4',
  'uuidv7',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'nextval',
  'txid_current',
  'pg_current_xact_id',
  'gen_random_bytes',
]);
const SERIAL_TYPES = new Set(['serial', 'serial4', 'bigserial', 'serial8', 'smallserial', 'serial2']);

/** The first call of a volatile function in an expression tree. */
function volatileCall(node: unknown): string | undefined {
  if (!node || typeof node !== 'object') return undefined;
  if (Array.isArray(node)) {
    for (const n of node) {
      const v = volatileCall(n);
      if (v) return v;
    }
    return undefined;
  }
  const call = (node as any).FuncCall;
  if (call) {
    const name = String(call.funcname?.[call.funcname.length - 1]?.String?.sval ?? '').toLowerCase();
    if (VOLATILE_FUNCTIONS.has(name)) return `${name}()`;
  }
  for (const v of Object.values(node)) {
    const found = volatileCall(v);
    if (found) return found;
  }
  return undefined;
}

/** Why adding this column rewrites the table, if it does. */
function rewritingColumn(col: any): string | undefined {
  const type = String(col?.typeName?.names?.[col.typeName.names.length - 1]?.String?.sval ?? '').toLowerCase();
  if (SERIAL_TYPES.has(type)) return `type ${type} (its default is nextval(), evaluated for every row)`;
  for (const c of col?.constraints ?? []) {
    const con = c.Constraint;
    if (con?.contype === 'CONSTR_IDENTITY') return 'an identity column (a value from the sequence for every row)';
    if (con?.contype === 'CONSTR_GENERATED' && con.generated_kind !== 'v') return 'a stored generated column (computed for every row)';
    if (con?.contype === 'CONSTR_DEFAULT') {
      const f = volatileCall(con.raw_expr);
      if (f) return `the volatile default ${f}`;
    }
  }
  return undefined;
}

/** `col` of a CHECK (col IS NOT NULL) constraint, or of a NOT NULL col constraint. */
function notNullColumn(con: any): string | undefined {
  if (con?.contype === 'CONSTR_NOTNULL') return con.keys?.length === 1 ? con.keys[0]?.String?.sval : undefined;
  const test = con?.contype === 'CONSTR_CHECK' ? con.raw_expr?.NullTest : undefined;
  if (test?.nulltesttype !== 'IS_NOT_NULL') return undefined;
  const fields: any[] = test.arg?.ColumnRef?.fields ?? [];
  return fields.length ? fields[fields.length - 1]?.String?.sval : undefined;
}

const recipeOnOnly = (table: string) =>
  `CREATE INDEX <name> ON ONLY ${table} (…); then CREATE INDEX CONCURRENTLY <part_name> ON <partition> (…) for each partition; ` +
  `then ALTER INDEX <name> ATTACH PARTITION <part_name> for each (the parent index becomes valid when all are attached)`;

const bare = (name: string | undefined) => (name ?? '').split('.').pop()!.toLowerCase();

/** `-- boosterz-lint: allow drop-or-rename, BZ006` directives in a piece of comment text. */
function allowed(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/boosterz-lint:\s*allow\s+([A-Za-z0-9_, -]+)/g)) {
    for (const w of m[1].split(/[\s,]+/)) if (w) out.add(w.toLowerCase());
  }
  return out;
}

const commentsAbove = (st: Statement) => st.text.slice(0, st.text.length - stripLeadingComments(st.text).length);

function isAllowed(id: RuleId, fileAllow: Set<string>, st: Statement): boolean {
  const own = allowed(commentsAbove(st));
  const names = [id.toLowerCase(), RULES[id], RULES[id].split('-')[0]];
  return names.some((n) => fileAllow.has(n) || own.has(n));
}

/**
 * Static safety checks of one migration file with the real parser. `memory` carries
 * what earlier files created (for REFRESH … CONCURRENTLY) and is updated.
 */
export function lintSql(sql: string, file: string, memory: LintMemory = newMemory()): LintFinding[] {
  const statements = splitSql(sql, file);
  const findings: LintFinding[] = [];
  // directives in the comments above the first statement apply to the whole file
  const fileAllow = allowed(statements.length ? commentsAbove(statements[0]) : sql);
  const transactional = statements.every((s) => s.transactional);
  const createdHere = new Set<string>();
  const partitioned = (memory.partitioned ??= new Set());
  const notNullChecks = (memory.notNullChecks ??= new Map());
  const notNullConstraints = (memory.notNullConstraints ??= new Map());
  let inExplicitTx = false;
  const add = (id: RuleId, st: Statement, message: string) => {
    if (!isAllowed(id, fileAllow, st)) findings.push({ id, rule: RULES[id], message, file, line: st.line });
  };

  /** BZ010–BZ013, and what SET NOT NULL needs to know, for one ALTER TABLE subcommand. */
  const lintAlterCommand = (cmd: any, st: Statement) => {
    const table = bare(st.table);
    const existing = !!st.table && !createdHere.has(table);
    const con = cmd.def?.Constraint;
    if (cmd.subtype === 'AT_AddColumn' && existing) {
      const why = rewritingColumn(cmd.def?.ColumnDef);
      if (why) {
        add(
          'BZ010',
          st,
          `ADD COLUMN ${cmd.def.ColumnDef.colname} on existing table ${st.table} with ${why} rewrites the whole table under ACCESS EXCLUSIVE ` +
            '(no reads or writes meanwhile): add the column without a default (or with a constant one), backfill in batches, then SET DEFAULT',
        );
      }
      const inline = (cmd.def?.ColumnDef?.constraints ?? []).find((c: any) =>
        ['CONSTR_PRIMARY', 'CONSTR_UNIQUE'].includes(c.Constraint?.contype),
      );
      if (inline) {
        const what = inline.Constraint.contype === 'CONSTR_PRIMARY' ? 'PRIMARY KEY' : 'UNIQUE';
        add(
          'BZ013',
          st,
          `ADD COLUMN ${cmd.def.ColumnDef.colname} … ${what} on existing table ${st.table} ` +
            'builds its index under ACCESS EXCLUSIVE: add the column, CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … USING INDEX',
        );
      }
    }
    if (cmd.subtype === 'AT_AlterColumnType' && existing) {
      add(
        'BZ011',
        st,
        `ALTER COLUMN ${cmd.name} TYPE on existing table ${st.table} rewrites the table and its indexes under ACCESS EXCLUSIVE ` +
          '(except a few binary-compatible changes such as varchar(n) to text): add a new column, backfill it in batches, then switch over',
      );
    }
    if (
      cmd.subtype === 'AT_AddConstraint' &&
      (con?.contype === 'CONSTR_PRIMARY' || con?.contype === 'CONSTR_UNIQUE') &&
      !con.indexname &&
      existing
    ) {
      const what = con.contype === 'CONSTR_PRIMARY' ? 'PRIMARY KEY' : 'UNIQUE';
      add(
        'BZ013',
        st,
        `ADD ${what} on existing table ${st.table} builds its index under ACCESS EXCLUSIVE (no reads or writes meanwhile): ` +
          `CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT … ${what} USING INDEX <that index>`,
      );
    }
    const col = cmd.subtype === 'AT_AddConstraint' ? notNullColumn(con) : undefined;
    if (col) {
      const key = `${table}.${col.toLowerCase()}`;
      notNullChecks.set(key, notNullChecks.get(key) || !con.skip_validation);
      if (con.conname) notNullConstraints.set(`${table}.${String(con.conname).toLowerCase()}`, key);
    }
    if (cmd.subtype === 'AT_ValidateConstraint') {
      const key = notNullConstraints.get(`${table}.${String(cmd.name ?? '').toLowerCase()}`);
      if (key) notNullChecks.set(key, true);
    }
    if (cmd.subtype === 'AT_SetNotNull' && existing && !notNullChecks.get(`${table}.${String(cmd.name ?? '').toLowerCase()}`)) {
      add(
        'BZ012',
        st,
        `SET NOT NULL on ${st.table}.${cmd.name} scans the whole table under ACCESS EXCLUSIVE: ` +
          `first ADD CONSTRAINT … CHECK (${cmd.name} IS NOT NULL) NOT VALID, ` +
          'then VALIDATE CONSTRAINT (no strong lock), then SET NOT NULL (PostgreSQL 12+ uses the validated check and skips the scan)',
      );
    }
  };

  for (const st of statements) {
    const a = st.ast;
    switch (st.node) {
      case 'TransactionStmt':
        if (a.kind === 'TRANS_STMT_BEGIN' || a.kind === 'TRANS_STMT_START') inExplicitTx = true;
        if (a.kind === 'TRANS_STMT_COMMIT' || a.kind === 'TRANS_STMT_ROLLBACK') inExplicitTx = false;
        break;
      case 'CreateStmt':
        createdHere.add(bare(st.target));
        if (a.partspec) partitioned.add(bare(st.target));
        break;
      case 'CreateTableAsStmt':
        createdHere.add(bare(st.target));
        if (a.objtype === 'OBJECT_MATVIEW') memory.matviews.add(bare(st.target));
        break;
      case 'IndexStmt': {
        const table = bare(st.table);
        // ON ONLY (inh false) builds nothing on a partitioned parent: the first step of the per-partition recipe
        const onOnly = a.relation && !a.relation.inh;
        if (!a.concurrent && !onOnly && !createdHere.has(table) && !memory.matviews.has(table)) {
          add(
            'BZ001',
            st,
            `CREATE INDEX on existing table ${st.table} without CONCURRENTLY blocks writes for the whole build: use CREATE INDEX CONCURRENTLY`,
          );
        }
        if (a.concurrent && !a.idxname) {
          add(
            'BZ007',
            st,
            `CREATE INDEX CONCURRENTLY without a name on ${st.table}: PostgreSQL picks a new name on each attempt, so an interrupted build ` +
              'cannot be found, checked or resumed by name: name the index',
          );
        }
        if (a.concurrent && a.if_not_exists) {
          add(
            'BZ008',
            st,
            `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${st.target}: after an interrupted build it silently keeps the INVALID index ` +
              '(never used, still maintained on every write): drop IF NOT EXISTS; boosterz-db drops and rebuilds an INVALID index of that name',
          );
        }
        if (a.concurrent && partitioned.has(table)) {
          add(
            'BZ009',
            st,
            `CREATE INDEX CONCURRENTLY on the partitioned table ${st.table} is refused by PostgreSQL: ${recipeOnOnly(st.table ?? table)}`,
          );
        }
        if (a.unique && memory.matviews.has(table) && !a.whereClause) memory.matviewsWithUniqueIndex.add(table);
        break;
      }
      case 'AlterTableStmt':
        for (const c of a.cmds ?? []) {
          const cmd = c.AlterTableCmd ?? {};
          const con = cmd.def?.Constraint;
          if (
            cmd.subtype === 'AT_AddConstraint' &&
            con &&
            (con.contype === 'CONSTR_FOREIGN' || con.contype === 'CONSTR_CHECK') &&
            !con.skip_validation &&
            !createdHere.has(bare(st.table))
          ) {
            const kind = con.contype === 'CONSTR_FOREIGN' ? 'FOREIGN KEY' : 'CHECK';
            add(
              'BZ002',
              st,
              `ADD ${kind} on existing table ${st.table} without NOT VALID scans the table under a lock that blocks writes: add it NOT VALID, then VALIDATE CONSTRAINT in its own statement`,
            );
          }
          if (cmd.subtype === 'AT_DropColumn')
            add(
              'BZ004',
              st,
              `DROP COLUMN ${cmd.name} on ${st.table} loses data and breaks readers: confirm with a "-- boosterz-lint: allow drop" comment`,
            );
          lintAlterCommand(cmd, st);
        }
        break;
      case 'DropStmt':
        if (a.removeType === 'OBJECT_TABLE')
          add('BZ004', st, `DROP TABLE ${st.target} loses data: confirm with a "-- boosterz-lint: allow drop" comment`);
        break;
      case 'RenameStmt':
        if (a.renameType === 'OBJECT_TABLE' || a.renameType === 'OBJECT_COLUMN') {
          add(
            'BZ004',
            st,
            `RENAME of ${a.renameType === 'OBJECT_TABLE' ? 'table' : 'column'} ${a.relation?.relname ?? ''}${a.subname ? `.${a.subname}` : ''} breaks running application code: confirm with a "-- boosterz-lint: allow rename" comment`,
          );
        }
        break;
      case 'RefreshMatViewStmt':
        if (a.concurrent && !memory.matviewsWithUniqueIndex.has(bare(st.target))) {
          add(
            'BZ005',
            st,
            `REFRESH MATERIALIZED VIEW CONCURRENTLY ${st.target} needs a unique index on the view (none created before this statement)`,
          );
        }
        break;
      case 'VariableSetStmt':
        if (transactional && !a.is_local && a.kind !== 'VAR_RESET') {
          add('BZ006', st, `SET ${a.name} without LOCAL in a transactional migration outlives the migration on the session: use SET LOCAL`);
        }
        break;
    }
    if (inExplicitTx && !st.transactional) {
      add('BZ003', st, `${st.kind.toUpperCase()} inside an explicit BEGIN fails (25001): PostgreSQL refuses it in a transaction block`);
    }
  }
  return findings;
}

/** Lints files in the order given (migrations by version), sharing what earlier files created. */
export async function lintFiles(paths: string[]): Promise<LintFinding[]> {
  await loadParser();
  const memory = newMemory();
  const out: LintFinding[] = [];
  for (const p of paths) out.push(...lintSql(await readFile(p, 'utf8'), p, memory));
  return out;
}

/**
 * Lints migrations in version order (earlier files feed the memory) and returns the
 * findings of the versions in `only` (all when omitted), then the rollback scripts.
 */
export async function lintMigrations(
  files: { version: number; path: string; sql: string; rollbackPath: string; rollbackSql: string }[],
  o: { only?: Set<number>; rollbacks?: boolean } = {},
): Promise<LintFinding[]> {
  await loadParser();
  const memory = newMemory();
  const out: LintFinding[] = [];
  for (const f of files) {
    const found = lintSql(f.sql, f.path, memory);
    if (!o.only || o.only.has(f.version)) out.push(...found);
  }
  if (o.rollbacks) for (const f of files) out.push(...lintSql(f.rollbackSql, f.rollbackPath, memory));
  return out;
}

export function formatFinding(f: LintFinding): string {
  return `${f.file}:${f.line}: ${f.id} ${f.rule}: ${f.message}`;
}

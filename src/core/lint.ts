import { readFile } from 'node:fs/promises';
import { loadParser, splitSql, stripLeadingComments, type Statement } from './statements.js';

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
} as const;
type RuleId = keyof typeof RULES;

/** What lint learns from earlier files (in version order). */
export interface LintMemory {
  /** Materialized views that have a unique index (REFRESH … CONCURRENTLY needs one). */
  matviewsWithUniqueIndex: Set<string>;
  matviews: Set<string>;
}

export const newMemory = (): LintMemory => ({ matviewsWithUniqueIndex: new Set(), matviews: new Set() });

const bare = (name: string | undefined) => (name ?? '').split('.').pop()!.toLowerCase();

/** `-- boosterz-lint: allow drop-or-rename, BZ006` directives in a piece of comment text. */
function allowed(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/boosterz-lint:\s*allow\s+([A-Za-z0-9_, -]+)/g)) {
    for (const w of m[1]!.split(/[\s,]+/)) if (w) out.add(w.toLowerCase());
  }
  return out;
}

const commentsAbove = (st: Statement) => st.text.slice(0, st.text.length - stripLeadingComments(st.text).length);

function isAllowed(id: RuleId, fileAllow: Set<string>, st: Statement): boolean {
  const own = allowed(commentsAbove(st));
  const names = [id.toLowerCase(), RULES[id], RULES[id].split('-')[0]!];
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
  const fileAllow = allowed(statements.length ? commentsAbove(statements[0]!) : sql);
  const transactional = statements.every((s) => s.transactional);
  const createdHere = new Set<string>();
  let inExplicitTx = false;
  const add = (id: RuleId, st: Statement, message: string) => {
    if (!isAllowed(id, fileAllow, st)) findings.push({ id, rule: RULES[id], message, file, line: st.line });
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
        break;
      case 'CreateTableAsStmt':
        createdHere.add(bare(st.target));
        if (a.objtype === 'OBJECT_MATVIEW') memory.matviews.add(bare(st.target));
        break;
      case 'IndexStmt': {
        const table = bare(st.table);
        if (!a.concurrent && !createdHere.has(table) && !memory.matviews.has(table)) {
          add('BZ001', st, `CREATE INDEX on existing table ${st.table} without CONCURRENTLY blocks writes for the whole build: use CREATE INDEX CONCURRENTLY`);
        }
        if (a.unique && memory.matviews.has(table) && !a.whereClause) memory.matviewsWithUniqueIndex.add(table);
        break;
      }
      case 'AlterTableStmt':
        for (const c of a.cmds ?? []) {
          const cmd = c.AlterTableCmd ?? {};
          const con = cmd.def?.Constraint;
          if (cmd.subtype === 'AT_AddConstraint' && con && (con.contype === 'CONSTR_FOREIGN' || con.contype === 'CONSTR_CHECK') && !con.skip_validation && !createdHere.has(bare(st.table))) {
            const kind = con.contype === 'CONSTR_FOREIGN' ? 'FOREIGN KEY' : 'CHECK';
            add('BZ002', st, `ADD ${kind} on existing table ${st.table} without NOT VALID scans the table under a lock that blocks writes: add it NOT VALID, then VALIDATE CONSTRAINT in its own statement`);
          }
          if (cmd.subtype === 'AT_DropColumn') add('BZ004', st, `DROP COLUMN ${cmd.name} on ${st.table} loses data and breaks readers: confirm with a "-- boosterz-lint: allow drop" comment`);
        }
        break;
      case 'DropStmt':
        if (a.removeType === 'OBJECT_TABLE') add('BZ004', st, `DROP TABLE ${st.target} loses data: confirm with a "-- boosterz-lint: allow drop" comment`);
        break;
      case 'RenameStmt':
        if (a.renameType === 'OBJECT_TABLE' || a.renameType === 'OBJECT_COLUMN') {
          add('BZ004', st, `RENAME of ${a.renameType === 'OBJECT_TABLE' ? 'table' : 'column'} ${a.relation?.relname ?? ''}${a.subname ? `.${a.subname}` : ''} breaks running application code: confirm with a "-- boosterz-lint: allow rename" comment`);
        }
        break;
      case 'RefreshMatViewStmt':
        if (a.concurrent && !memory.matviewsWithUniqueIndex.has(bare(st.target))) {
          add('BZ005', st, `REFRESH MATERIALIZED VIEW CONCURRENTLY ${st.target} needs a unique index on the view (none created before this statement)`);
        }
        break;
      case 'VariableSetStmt':
        if (transactional && !a.is_local && a.kind !== 'VAR_RESET') {
          add('BZ006', st, `SET ${a.name} without LOCAL in a transactional migration outlives the migration on the session: use SET LOCAL`);
        }
        break;
    }
    if (inExplicitTx && !st.transactional) {
      add('BZ003', st, `${st.kind.toUpperCase()} inside an explicit BEGIN fails (25001): CONCURRENTLY cannot run in a transaction block`);
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
export async function lintMigrations(files: { version: number; path: string; sql: string; rollbackPath: string; rollbackSql: string }[], o: { only?: Set<number>; rollbacks?: boolean } = {}): Promise<LintFinding[]> {
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

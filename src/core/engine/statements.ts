import { createHash } from 'node:crypto';
import { loadModule, parseSync, scanSync } from 'libpg-query';
import { usageError } from '../../errors.js';
import type { Statement } from './types.js';

let loaded: Promise<void> | undefined;

/** Loads the WebAssembly parser once; call before `splitSql`. */
export function loadParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

/**
 * Splits SQL into statements with the real PostgreSQL parser. Locations from
 * libpg-query are UTF-8 byte offsets, so slicing happens on a Buffer.
 */
export function splitSql(sql: string, fileLabel = 'SQL'): Statement[] {
  let tree: { stmts?: Array<{ stmt: Record<string, any>; stmt_location?: number; stmt_len?: number }> };
  try {
    tree = parseSync(sql) as typeof tree;
  } catch (err) {
    const e = err as Error & { sqlDetails?: { cursorPosition?: number } };
    const pos = e.sqlDetails?.cursorPosition;
    const line = pos === undefined ? undefined : lineAt(Buffer.from(sql, 'utf8'), pos);
    throw usageError(`${fileLabel}${line ? `:${line}` : ''}: ${e.message}`);
  }
  const bytes = Buffer.from(sql, 'utf8');
  let prevEnd = 0;
  return (tree.stmts ?? []).map((raw, index) => {
    // libpg-query locations point at the first token; start where the previous statement
    // ended instead (minus the rest of its last line) so the comments above stay attached.
    const loc = raw.stmt_location ?? 0;
    const start = index === 0 ? 0 : afterLineEnd(bytes, prevEnd, loc);
    const end = raw.stmt_len === undefined || raw.stmt_len === 0 ? bytes.length : loc + raw.stmt_len;
    prevEnd = end;
    const text = bytes
      .subarray(start, end)
      .toString('utf8')
      .replace(/^\s+|\s+$/g, '');
    const body = stripLeadingComments(text);
    const firstTokenByte = start + leadingBytes(bytes.subarray(start, end).toString('utf8'), body);
    const node = Object.keys(raw.stmt)[0];
    const ast = raw.stmt[node] ?? {};
    return { index, text, line: lineAt(bytes, firstTokenByte), node, ast, ...classify(node, ast) };
  });
}

/** From the end of a statement, skips `;` and the rest of that line if it holds only a comment. */
function afterLineEnd(bytes: Buffer, from: number, limit: number): number {
  let at = from;
  while (at < limit && (bytes[at] === 0x3b || bytes[at] === 0x20 || bytes[at] === 0x09)) at++; // ';', blanks
  const nl = bytes.indexOf(0x0a, at);
  if (nl < 0 || nl >= limit) return at;
  const rest = bytes.subarray(at, nl).toString('utf8').trim();
  return rest === '' || rest.startsWith('--') ? nl + 1 : at;
}

function lineAt(bytes: Buffer, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < bytes.length; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

/** Byte length of what precedes `body` inside `whole` (whitespace and comments). */
function leadingBytes(whole: string, body: string): number {
  const at = whole.indexOf(body);
  return Buffer.byteLength(whole.slice(0, Math.max(at, 0)), 'utf8');
}

/** Removes whitespace, `--` and (nested) `/* *\/` comments before the first token. */
export function stripLeadingComments(text: string): string {
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (text.startsWith('--', i)) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl + 1;
    } else if (text.startsWith('/*', i)) {
      let depth = 0;
      while (i < text.length) {
        if (text.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (text.startsWith('*/', i)) {
          depth--;
          i += 2;
          if (depth === 0) break;
        } else i++;
      }
    } else return text.slice(i);
  }
}

/** The comment lines written just above a statement, e.g. `-- serves: feed`. */
export function leadingComment(text: string): string {
  const head = text.slice(0, text.length - stripLeadingComments(text).length);
  return head
    .split('\n')
    .map((l) => l.trim().replace(/^--\s?/, ''))
    .filter((l) => l && !l.startsWith('/*'))
    .join(' ');
}

type Classified = Pick<Statement, 'kind' | 'transactional' | 'target' | 'table'>;

function rangeVarName(rv: any): string | undefined {
  if (!rv?.relname) return undefined;
  return rv.schemaname ? `${rv.schemaname}.${rv.relname}` : rv.relname;
}

function nameList(list: any): string | undefined {
  const items: any[] = list?.List?.items ?? (Array.isArray(list) ? list : []);
  const names = items.map((i: any) => i?.String?.sval).filter(Boolean);
  return names.length ? names.join('.') : undefined;
}

const words = (node: string) =>
  node
    .replace(/Stmt$/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase();

function alterKind(ast: any): string {
  const sub: string[] = (ast.cmds ?? []).map((c: any) => {
    const t: string = c.AlterTableCmd?.subtype ?? '';
    const contype: string | undefined = c.AlterTableCmd?.def?.Constraint?.contype;
    if (t === 'AT_AddConstraint' && contype === 'CONSTR_FOREIGN') return 'add foreign key';
    if (t === 'AT_AddConstraint' && contype === 'CONSTR_CHECK') return 'add check';
    return t
      .replace(/^AT_/, '')
      .replace(/([a-z])([A-Z])/g, '$1 $2')
      .toLowerCase();
  });
  const what =
    ast.objtype === 'OBJECT_INDEX' ? 'alter index' : ast.objtype === 'OBJECT_MATVIEW' ? 'alter materialized view' : 'alter table';
  return sub.length ? `${what} ${[...new Set(sub)].join(', ')}` : what;
}

/** A DefElem's value as a boolean (`true`, `on`, `1`, bare option), undefined when it is no boolean. */
function defBool(d: any): boolean | undefined {
  const arg = d?.arg;
  if (arg === undefined) return true; // `WITH (create_slot)` means true
  if (arg.Boolean) return !!arg.Boolean.boolval;
  if (arg.Integer) return (arg.Integer.ival ?? 0) !== 0;
  const word: string | undefined = arg.String?.sval ?? arg.TypeName?.names?.[0]?.String?.sval;
  if (word === undefined) return undefined;
  const w = word.toLowerCase();
  if (['true', 'on', 'yes', '1'].includes(w)) return true;
  if (['false', 'off', 'no', '0'].includes(w)) return false;
  return undefined;
}

/** The option `name` of a DefElem list (WITH (...) / (...) options), as written. */
const option = (list: any[] | undefined, name: string) => (list ?? []).map((o: any) => o?.DefElem).find((d: any) => d?.defname === name);

/** An option that is on unless written off, e.g. CREATE SUBSCRIPTION's create_slot. */
const onUnlessOff = (list: any[] | undefined, name: string) => {
  const d = option(list, name);
  return d === undefined || defBool(d) !== false;
};

/**
 * CONCURRENTLY statements: they wait for older transactions through lock waits that
 * lock_timeout would cancel (leaving an INVALID index), so they never run with one.
 */
export function isConcurrently(st: Pick<Statement, 'node' | 'ast'>): boolean {
  const a = st.ast;
  switch (st.node) {
    case 'IndexStmt':
    case 'DropStmt':
      return !!a.concurrent;
    case 'ReindexStmt':
      return !!option(a.params, 'concurrently') && defBool(option(a.params, 'concurrently')) !== false;
    case 'AlterTableStmt':
      return (a.cmds ?? []).some(
        (c: any) => c.AlterTableCmd?.subtype === 'AT_DetachPartition' && c.AlterTableCmd?.def?.PartitionCmd?.concurrent,
      );
    default:
      return false;
  }
}

/** CREATE INDEX CONCURRENTLY and REINDEX … CONCURRENTLY: the statements that build an index concurrently. */
export const isConcurrentBuild = (st: Pick<Statement, 'node' | 'ast'>) =>
  (st.node === 'IndexStmt' || st.node === 'ReindexStmt') && isConcurrently(st);

/** VACUUM FULL (ACCESS EXCLUSIVE on each table); plain VACUUM takes SHARE UPDATE EXCLUSIVE, which blocks no reader or writer. */
export const isVacuumFull = (st: Pick<Statement, 'node' | 'ast'>) =>
  st.node === 'VacuumStmt' &&
  !!st.ast.is_vacuumcmd &&
  !!option(st.ast.options, 'full') &&
  defBool(option(st.ast.options, 'full')) !== false;

/**
 * A statement run outside a transaction that should still get the run's lock_timeout and the
 * lock-timeout retries: it takes locks that queue the application's reads or writes (VACUUM FULL,
 * CLUSTER, REINDEX without CONCURRENTLY, ALTER DATABASE SET TABLESPACE, …). CONCURRENTLY
 * statements and plain VACUUM do not (see isConcurrently).
 */
export const needsLockTimeoutOutsideTransaction = (st: Pick<Statement, 'node' | 'ast' | 'transactional'>) =>
  !st.transactional && !isConcurrently(st) && !(st.node === 'VacuumStmt' && !isVacuumFull(st));

const REINDEX_WHAT: Record<string, string> = {
  REINDEX_OBJECT_SCHEMA: 'schema',
  REINDEX_OBJECT_DATABASE: 'database',
  REINDEX_OBJECT_SYSTEM: 'system',
};

/**
 * Kind, transactionality and target of one parsed statement. `transactional: false` for
 * every statement PostgreSQL refuses in a transaction block (PreventInTransactionBlock, 25001);
 * test/integration/statement-classes.test.ts checks the list against a real server. REINDEX
 * TABLE/INDEX and CLUSTER of a partitioned table are refused too: that depends on the catalog,
 * so the runner reclassifies them at run time (see runner.ts).
 */
export function classify(node: string, ast: any): Classified {
  switch (node) {
    case 'IndexStmt': {
      const table = rangeVarName(ast.relation);
      const schema = ast.relation?.schemaname;
      const target = ast.idxname ? (schema ? `${schema}.${ast.idxname}` : ast.idxname) : `index on ${table}`;
      return {
        kind: `create ${ast.unique ? 'unique ' : ''}index${ast.concurrent ? ' concurrently' : ''}`,
        transactional: !ast.concurrent,
        target,
        table,
      };
    }
    case 'DropStmt': {
      const type = String(ast.removeType ?? 'OBJECT')
        .replace(/^OBJECT_/, '')
        .replace(/_/g, ' ')
        .toLowerCase();
      const objs = (ast.objects ?? [])
        .map((o: any) => nameList(o) ?? (o?.ObjectWithArgs && nameList(o.ObjectWithArgs.objname)))
        .filter(Boolean);
      const target = objs.join(', ') || undefined;
      return {
        kind: `drop ${type}${ast.concurrent ? ' concurrently' : ''}`,
        transactional: !ast.concurrent,
        target,
        table: type === 'table' ? target : undefined,
      };
    }
    case 'ReindexStmt': {
      const concurrent = isConcurrently({ node, ast });
      const many = REINDEX_WHAT[ast.kind];
      const target = rangeVarName(ast.relation) ?? ast.name;
      const kind = `reindex${many ? ` ${many}` : ''}${concurrent ? ' concurrently' : ''}`;
      return { kind, transactional: !concurrent && !many, target, table: many ? undefined : target };
    }
    case 'ClusterStmt': {
      // CLUSTER without a table reclusters every clustered table, each in its own transaction
      const table = rangeVarName(ast.relation);
      return { kind: 'cluster', transactional: !!table, target: table, table };
    }
    case 'AlterDatabaseStmt': {
      const moves = !!option(ast.options, 'tablespace');
      return { kind: moves ? 'alter database set tablespace' : 'alter database', transactional: !moves, target: ast.dbname };
    }
    case 'DiscardStmt': {
      const all = ast.target === 'DISCARD_ALL';
      return {
        kind: `discard ${String(ast.target ?? '')
          .replace(/^DISCARD_/, '')
          .toLowerCase()}`,
        transactional: !all,
      };
    }
    case 'CreateSubscriptionStmt':
      // refused in a transaction when it creates the replication slot (the default; connect = false implies no slot)
      return {
        kind: 'create subscription',
        transactional: !(onUnlessOff(ast.options, 'create_slot') && onUnlessOff(ast.options, 'connect')),
        target: ast.subname,
      };
    case 'AlterSubscriptionStmt': {
      const k = String(ast.kind ?? '');
      let refused = false;
      if (k.startsWith('ALTER_SUBSCRIPTION_REFRESH')) refused = true;
      else if (/PUBLICATION$/.test(k)) refused = onUnlessOff(ast.options, 'refresh');
      // PG 17+: changing failover or two_phase alters the slot on the publisher
      else if (k === 'ALTER_SUBSCRIPTION_OPTIONS') refused = !!(option(ast.options, 'failover') || option(ast.options, 'two_phase'));
      return { kind: 'alter subscription', transactional: !refused, target: ast.subname };
    }
    case 'DropSubscriptionStmt':
      // refused in a transaction when the subscription has a replication slot: assume it has
      return { kind: 'drop subscription', transactional: false, target: ast.subname };
    case 'VacuumStmt': {
      const tables =
        (ast.rels ?? [])
          .map((r: any) => rangeVarName(r?.VacuumRelation?.relation))
          .filter(Boolean)
          .join(', ') || undefined;
      const kind = ast.is_vacuumcmd ? (isVacuumFull({ node, ast }) ? 'vacuum full' : 'vacuum') : 'analyze';
      return { kind, transactional: !ast.is_vacuumcmd, target: tables, table: tables };
    }
    case 'AlterTableStmt': {
      const target = rangeVarName(ast.relation);
      const detach = isConcurrently({ node, ast });
      const table = ast.objtype === 'OBJECT_TABLE' ? target : undefined;
      return { kind: `${alterKind(ast)}${detach ? ' concurrently' : ''}`, transactional: !detach, target, table };
    }
    case 'CreateStmt':
      return { kind: 'create table', transactional: true, target: rangeVarName(ast.relation), table: rangeVarName(ast.relation) };
    case 'CreateTableAsStmt': {
      const target = rangeVarName(ast.into?.rel);
      return { kind: ast.objtype === 'OBJECT_MATVIEW' ? 'create materialized view' : 'create table as', transactional: true, target };
    }
    case 'RefreshMatViewStmt':
      return {
        kind: `refresh materialized view${ast.concurrent ? ' concurrently' : ''}`,
        transactional: true,
        target: rangeVarName(ast.relation),
      };
    case 'ViewStmt':
      return { kind: `create${ast.replace ? ' or replace' : ''} view`, transactional: true, target: rangeVarName(ast.view) };
    case 'CreateFunctionStmt':
      return {
        kind: `create${ast.replace ? ' or replace' : ''} ${ast.is_procedure ? 'procedure' : 'function'}`,
        transactional: true,
        target: nameList(ast.funcname),
      };
    case 'CreateTrigStmt':
      return {
        kind: `create${ast.replace ? ' or replace' : ''} trigger`,
        transactional: true,
        target: ast.trigname,
        table: rangeVarName(ast.relation),
      };
    case 'CommentStmt':
      return { kind: 'comment', transactional: true };
    case 'CreatedbStmt':
    case 'DropdbStmt':
    case 'AlterSystemStmt':
    case 'CreateTableSpaceStmt':
    case 'DropTableSpaceStmt':
      return { kind: words(node), transactional: false };
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt': {
      const table = rangeVarName(ast.relation);
      return { kind: words(node), transactional: true, target: table, table };
    }
    case 'CreateExtensionStmt':
      return { kind: 'create extension', transactional: true, target: ast.extname };
    case 'CreateSchemaStmt':
      return { kind: 'create schema', transactional: true, target: ast.schemaname };
    case 'VariableSetStmt':
      return { kind: ast.is_local ? 'set local' : 'set', transactional: true, target: ast.name };
    case 'TransactionStmt': {
      const kind = String(ast.kind ?? '')
        .replace(/^TRANS_STMT_/, '')
        .replace(/_/g, ' ')
        .toLowerCase();
      return { kind, transactional: kind !== 'commit prepared' && kind !== 'rollback prepared' };
    }
    default:
      return { kind: words(node), transactional: true };
  }
}

/**
 * A CREATE INDEX statement split around its table, as written (qualified, quoted), found with
 * the real scanner: `table` and `rest` (`USING … (…) INCLUDE … WHERE …`). Offsets are bytes.
 */
export function splitIndexStatement(text: string): { table: string; rest: string } {
  const tree = parseSync(text) as { stmts?: Array<{ stmt: Record<string, any> }> };
  const rel = tree.stmts?.[0]?.stmt.IndexStmt?.relation;
  if (!rel) throw new Error(`not a CREATE INDEX statement: ${text.slice(0, 80)}`);
  const at = rel.location ?? 0;
  const tokens = scanSync(text).tokens;
  let i = tokens.findIndex((t) => t.start === at);
  if (i < 0) throw new Error(`cannot find the table of: ${text.slice(0, 80)}`);
  while (tokens[i + 1]?.text === '.' && tokens[i + 2]) i += 2;
  const bytes = Buffer.from(text, 'utf8');
  return { table: bytes.subarray(at, tokens[i].end).toString('utf8'), rest: bytes.subarray(tokens[i].end).toString('utf8').trim() };
}

/** Identifies a statement's text in the journal and the statistics. */
export const statementChecksum = (st: Pick<Statement, 'text'>) => createHash('sha256').update(st.text).digest('hex').slice(0, 16);

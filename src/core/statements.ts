import { loadModule, parseSync } from 'libpg-query';
import { usageError } from './errors.js';

/** One statement of a migration file, as the PostgreSQL parser sees it. */
export interface Statement {
  /** 0-based position in the file. */
  index: number;
  /** The statement text, leading comments included, without the trailing `;`. */
  text: string;
  /** 1-based line of the statement's first token in the file. */
  line: number;
  /** Parse-tree node name, e.g. `IndexStmt`. */
  node: string;
  /** The parse tree of the statement. */
  ast: Record<string, any>;
  /** Short human label: `create index concurrently`, `alter table validate constraint`… */
  kind: string;
  /** false for statements PostgreSQL refuses inside a transaction block. */
  transactional: boolean;
  /** The object acted on (table, index, view, function), schema-qualified when written so. */
  target?: string;
  /** The table whose lock or data the statement touches, when there is one. */
  table?: string;
}

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
    const text = bytes.subarray(start, end).toString('utf8').replace(/^\s+|\s+$/g, '');
    const body = stripLeadingComments(text);
    const firstTokenByte = start + leadingBytes(bytes.subarray(start, end).toString('utf8'), body);
    const node = Object.keys(raw.stmt)[0]!;
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
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text.startsWith('--', i)) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl + 1;
    } else if (text.startsWith('/*', i)) {
      let depth = 0;
      while (i < text.length) {
        if (text.startsWith('/*', i)) { depth++; i += 2; }
        else if (text.startsWith('*/', i)) { depth--; i += 2; if (depth === 0) break; }
        else i++;
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
  node.replace(/Stmt$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();

function alterKind(ast: any): string {
  const sub: string[] = (ast.cmds ?? []).map((c: any) => {
    const t: string = c.AlterTableCmd?.subtype ?? '';
    const contype: string | undefined = c.AlterTableCmd?.def?.Constraint?.contype;
    if (t === 'AT_AddConstraint' && contype === 'CONSTR_FOREIGN') return 'add foreign key';
    if (t === 'AT_AddConstraint' && contype === 'CONSTR_CHECK') return 'add check';
    return t.replace(/^AT_/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  });
  const what = ast.objtype === 'OBJECT_INDEX' ? 'alter index' : ast.objtype === 'OBJECT_MATVIEW' ? 'alter materialized view' : 'alter table';
  return sub.length ? `${what} ${[...new Set(sub)].join(', ')}` : what;
}

/** Kind, transactionality and target of one parsed statement. */
export function classify(node: string, ast: any): Classified {
  switch (node) {
    case 'IndexStmt': {
      const table = rangeVarName(ast.relation);
      const schema = ast.relation?.schemaname;
      const target = ast.idxname ? (schema ? `${schema}.${ast.idxname}` : ast.idxname) : `index on ${table}`;
      return { kind: `create ${ast.unique ? 'unique ' : ''}index${ast.concurrent ? ' concurrently' : ''}`, transactional: !ast.concurrent, target, table };
    }
    case 'DropStmt': {
      const type = String(ast.removeType ?? 'OBJECT').replace(/^OBJECT_/, '').replace(/_/g, ' ').toLowerCase();
      const objs = (ast.objects ?? []).map((o: any) => nameList(o) ?? (o?.ObjectWithArgs && nameList(o.ObjectWithArgs.objname))).filter(Boolean);
      const target = objs.join(', ') || undefined;
      return { kind: `drop ${type}${ast.concurrent ? ' concurrently' : ''}`, transactional: !ast.concurrent, target, table: type === 'table' ? target : undefined };
    }
    case 'ReindexStmt': {
      const concurrent = (ast.params ?? []).some((p: any) => p?.DefElem?.defname === 'concurrently');
      const target = rangeVarName(ast.relation) ?? ast.name;
      return { kind: `reindex${concurrent ? ' concurrently' : ''}`, transactional: !concurrent && ast.kind !== 'REINDEX_OBJECT_DATABASE' && ast.kind !== 'REINDEX_OBJECT_SYSTEM', target, table: target };
    }
    case 'VacuumStmt': {
      const tables = (ast.rels ?? []).map((r: any) => rangeVarName(r?.VacuumRelation?.relation)).filter(Boolean).join(', ') || undefined;
      return { kind: ast.is_vacuumcmd ? 'vacuum' : 'analyze', transactional: !ast.is_vacuumcmd, target: tables, table: tables };
    }
    case 'AlterTableStmt': {
      const target = rangeVarName(ast.relation);
      return { kind: alterKind(ast), transactional: true, target, table: ast.objtype === 'OBJECT_TABLE' ? target : undefined };
    }
    case 'CreateStmt':
      return { kind: 'create table', transactional: true, target: rangeVarName(ast.relation), table: rangeVarName(ast.relation) };
    case 'CreateTableAsStmt': {
      const target = rangeVarName(ast.into?.rel);
      return { kind: ast.objtype === 'OBJECT_MATVIEW' ? 'create materialized view' : 'create table as', transactional: true, target };
    }
    case 'RefreshMatViewStmt':
      return { kind: `refresh materialized view${ast.concurrent ? ' concurrently' : ''}`, transactional: true, target: rangeVarName(ast.relation) };
    case 'ViewStmt':
      return { kind: `create${ast.replace ? ' or replace' : ''} view`, transactional: true, target: rangeVarName(ast.view) };
    case 'CreateFunctionStmt':
      return { kind: `create${ast.replace ? ' or replace' : ''} ${ast.is_procedure ? 'procedure' : 'function'}`, transactional: true, target: nameList(ast.funcname) };
    case 'CreateTrigStmt':
      return { kind: `create${ast.replace ? ' or replace' : ''} trigger`, transactional: true, target: ast.trigname, table: rangeVarName(ast.relation) };
    case 'CommentStmt':
      return { kind: 'comment', transactional: true };
    case 'CreatedbStmt':
    case 'DropdbStmt':
    case 'AlterSystemStmt':
    case 'CreateTableSpaceStmt':
    case 'DropTableSpaceStmt':
    case 'CreateSubscriptionStmt':
    case 'DropSubscriptionStmt':
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
    case 'TransactionStmt':
      return { kind: String(ast.kind ?? '').replace(/^TRANS_STMT_/, '').toLowerCase(), transactional: true };
    default:
      return { kind: words(node), transactional: true };
  }
}

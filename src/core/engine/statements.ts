import { createHash } from 'node:crypto';
import { loadModule, parseSync, scanSync } from 'libpg-query';
import { usageError } from '../../errors.js';
import { classify } from './classify.js';
import type { Statement } from './types.js';

// how a statement runs (kind, transactionality, CONCURRENTLY…) is decided in classify.ts
export { classify, isConcurrentBuild, isConcurrently, isVacuumFull, needsLockTimeoutOutsideTransaction } from './classify.js';

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

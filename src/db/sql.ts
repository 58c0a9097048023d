/** PostgreSQL identifier quoting, for names read from the catalog or a parse tree. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The schema of the tool's own bookkeeping: the one place its name is written outside src/sql/tool/. */
export const TOOL_SCHEMA = 'boosterz_db';

/** The tool's tables, each defined once in src/sql/tool/*.sql. */
export type ToolTable = 'schema_history' | 'statement_journal' | 'orphan_audit' | 'job_runs' | 'daemon_schedules';

/** A tool table's qualified name, for `db(toolTable(t))` (postgres.js quotes each part) and to_regclass(). */
export const toolTable = (t: ToolTable): string => `${TOOL_SCHEMA}.${t}`;

/** A dotted name from a parse tree (`public.CardRows`) quoted part by part, for SQL text and to_regclass(). */
export const quoteQualified = (name: string): string => name.split('.').map(quoteIdent).join('.');

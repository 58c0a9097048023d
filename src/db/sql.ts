import { isConnectionLoss } from '../errors.js';
import type { ReservedSql, Sql } from './connection.js';

export interface TransactionOptions {
  isolation?: 'read committed' | 'repeatable read' | 'serializable';
  /** lock_timeout of this transaction only (SET LOCAL); the session's own otherwise. */
  lockTimeoutMs?: number;
  /** statement_timeout of this transaction only (SET LOCAL); 0 is none. */
  statementTimeoutMs?: number;
  /** Roll back even when fn succeeds (probes): fn's result is returned, its changes are not kept. */
  rollback?: boolean;
}

/**
 * Runs fn in one transaction on a held connection (a reserved connection, or a session's
 * one-connection client), as postgres.js `sql.begin` does on a pooled one: BEGIN with the
 * isolation level, the local settings, fn, COMMIT; ROLLBACK when fn (or COMMIT) throws, and
 * the error goes on. After a lost connection nothing is sent: the server has ended the
 * transaction, and a ROLLBACK could only go out on a new session.
 */
export async function withTransaction<T>(conn: Sql | ReservedSql, o: TransactionOptions, fn: () => Promise<T>): Promise<T> {
  await conn.unsafe(o.isolation ? `begin isolation level ${o.isolation}` : 'begin');
  let result: T;
  try {
    if (o.lockTimeoutMs !== undefined || o.statementTimeoutMs !== undefined) await setLocal(conn, o);
    result = await fn();
    if (!o.rollback) await conn.unsafe('commit');
  } catch (err) {
    if (!isConnectionLoss(err)) await conn.unsafe('rollback').catch(() => undefined);
    throw err;
  }
  if (o.rollback) await conn.unsafe('rollback').catch(() => undefined); // a lost connection has rolled it back too
  return result;
}

async function setLocal(conn: Sql | ReservedSql, o: TransactionOptions): Promise<void> {
  const settings: [string, number | undefined][] = [
    ['lock_timeout', o.lockTimeoutMs],
    ['statement_timeout', o.statementTimeoutMs],
  ];
  const given = settings.filter((s): s is [string, number] => s[1] !== undefined);
  const names = given.map(([n]) => n);
  const values = given.map(([, ms]) => `${ms}ms`);
  await conn`select set_config(v.name, v.value, true) from unnest(${names}::text[], ${values}::text[]) as v(name, value)`;
}

/** PostgreSQL identifier quoting, for names read from the catalog or a parse tree. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The schema of the tool's own bookkeeping: the one place its name is written outside src/sql/tool/. */
export const TOOL_SCHEMA = 'boosterz_db';

/** The tool's tables, each defined once in src/sql/tool/*.sql. */
export type ToolTable = 'schema_history' | 'statement_journal' | 'orphan_audit' | 'job_runs' | 'daemon_schedules' | 'statement_stats';

/** A tool table's qualified name, for `db(toolTable(t))` (postgres.js quotes each part) and to_regclass(). */
export const toolTable = (t: ToolTable): string => `${TOOL_SCHEMA}.${t}`;

/** A dotted name from a parse tree (`public.CardRows`) quoted part by part, for SQL text and to_regclass(). */
export const quoteQualified = (name: string): string => name.split('.').map(quoteIdent).join('.');

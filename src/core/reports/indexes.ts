import type { Sql } from '../../db/connection.js';
import { quoteIdent } from '../../db/sql.js';
import { sqlFile } from '../../db/sqlfiles.js';

export interface UnusedIndex {
  schema: string;
  table: string;
  index: string;
  bytes: number;
  scans: number;
  tuples_read: number;
  definition: string;
  /** PostgreSQL 16+: when the index was last scanned (null: never, or older server). */
  last_idx_scan?: string | null;
  drop: string;
}

export interface UnusedIndexReport {
  /** When the usage statistics start: the database's last stats reset, else the server start. */
  statsSince: string;
  /**
   * `stats_reset` (pg_stat_database), or `server start` when they were never reset: then,
   * from PostgreSQL 15 on (statistics kept across clean restarts), they may go further back.
   */
  statsSource: 'stats_reset' | 'server start';
  statsAgeDays: number;
  /** Statistics (known to be) younger than 7 days say little about what is unused. */
  statsTooYoung: boolean;
  indexes: UnusedIndex[];
}

const dropStatement = (schema: string, index: string) => `DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(schema)}.${quoteIdent(index)};`;

/** Indexes with 0 scans that no constraint or foreign key needs, with the age of the statistics. */
export async function unusedIndexes(sql: Sql, sqlDir: string): Promise<UnusedIndexReport> {
  const rows = await sql.unsafe<Omit<UnusedIndex, 'drop'>[]>(await sqlFile(sqlDir, 'reports/unused-indexes.sql'));
  const [age] = await sql<{ since: Date; reset: boolean; days: number; v: number }[]>`
    select coalesce(d.stats_reset, pg_postmaster_start_time()) as since, d.stats_reset is not null as reset,
           (extract(epoch from now() - coalesce(d.stats_reset, pg_postmaster_start_time())) / 86400)::float8 as days,
           current_setting('server_version_num')::int as v
      from pg_stat_database d where d.datname = current_database()`;
  let lastScan = new Map<string, string | null>();
  if (age.v >= 160000 && rows.length) {
    const r = await sql<{ k: string; last: Date | null }[]>`
      select schemaname || '.' || indexrelname as k, last_idx_scan as last from pg_stat_user_indexes`;
    lastScan = new Map(r.map((x) => [x.k, x.last ? x.last.toISOString() : null]));
  }
  return {
    statsSince: age.since.toISOString(),
    statsSource: age.reset ? 'stats_reset' : 'server start',
    statsAgeDays: age.days,
    statsTooYoung: age.days < 7,
    indexes: rows.map((r) => ({
      ...r,
      ...(age.v >= 160000 ? { last_idx_scan: lastScan.get(`${r.schema}.${r.index}`) ?? null } : {}),
      drop: dropStatement(r.schema, r.index),
    })),
  };
}

export interface DuplicateIndex {
  schema: string;
  table: string;
  index: string;
  covered_by: string;
  /** The primary-key / unique constraint the index backs (two identical constraints), else null. */
  constraint: string | null;
  bytes: number;
  definition: string;
  covering_definition: string;
  drop: string;
}

/** Indexes whose columns are a leading prefix of another index's (same method, predicate, expressions). */
export async function duplicateIndexes(sql: Sql, sqlDir: string): Promise<DuplicateIndex[]> {
  const rows = (await sql.unsafe<Omit<DuplicateIndex, 'drop'>[]>(await sqlFile(sqlDir, 'reports/duplicate-indexes.sql'))).sort(
    (x, y) => x.schema.localeCompare(y.schema) || x.table.localeCompare(y.table) || x.index.localeCompare(y.index),
  );
  return rows.map((r) => ({
    ...r,
    drop: r.constraint
      ? `ALTER TABLE ${quoteIdent(r.schema)}.${quoteIdent(r.table)} DROP CONSTRAINT ${quoteIdent(r.constraint)};`
      : dropStatement(r.schema, r.index),
  }));
}

export interface InvalidIndex {
  schema: string;
  table: string;
  index: string;
  bytes: number;
  definition: string;
  drop: string;
}

/** INVALID indexes (failed or cancelled CONCURRENTLY builds), builds in progress excluded. */
export async function invalidIndexes(sql: Sql, sqlDir: string): Promise<InvalidIndex[]> {
  const rows = await sql.unsafe<Omit<InvalidIndex, 'drop'>[]>(await sqlFile(sqlDir, 'reports/invalid-indexes.sql'));
  return rows.map((r) => ({ ...r, drop: dropStatement(r.schema, r.index) }));
}

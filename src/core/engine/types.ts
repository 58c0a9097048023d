/**
 * The data the migration engine works on and reports: statements, scripts, and what its events carry.
 * Types only, importing nothing, so that every module of the engine and the CLI can use them without a cycle.
 */

export type Direction = 'up' | 'down';

/** Where a statement stands in the run; carried by every statement event. */
export interface StatementRef {
  /** Position in the whole run (1-based) and run size. */
  n: number;
  total: number;
  version: number;
  /** 0-based index in the file. */
  index: number;
  line: number;
  kind: string;
  target?: string;
  table?: string;
  transactional: boolean;
}

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

/** One script to run: a migration (up) or its rollback script (down). */
export interface Script {
  version: number;
  name: string;
  /** Checksum of the migration file (recorded in the history). */
  checksum: string;
  direction: Direction;
  path: string;
  statements: Statement[];
}

/** A session that our statement waits for. */
export interface Blocker {
  pid: number;
  application_name: string;
  state: string | null;
  xactAgeMs: number | null;
  query: string;
}

/** A session that can block the run: an old or idle-in-transaction transaction. */
export interface SessionInfo {
  pid: number;
  application_name: string;
  usename: string | null;
  state: string | null;
  xactAgeMs: number;
  query: string;
}

/** Rows that a new foreign key would reject. */
export interface OrphanCount {
  constraint?: string;
  table: string;
  columns: string[];
  refTable: string;
  count: number;
  /** Up to 5 orphan values (the referencing column's values). */
  samples: string[];
}

/** A role (or PUBLIC) that writes to tables a pending migration touches, and what the run means for it. */
export interface WriterRole {
  role: string;
  /** table → INSERT / UPDATE / DELETE it holds there. */
  writes: Record<string, string[]>;
  /** What the run changes for this role, one line each. */
  effects: string[];
}

/** --max-replica-lag: a size of WAL not yet replayed, or a duration. */
export type LagLimit = { bytes: number } | { ms: number };

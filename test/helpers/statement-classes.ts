/**
 * The statement classes, one case per line: what classify() must say about each statement, and
 * (in test/integration/statement-classes.test.ts) the proof on a real server that every
 * `transactional: false` case is refused in a transaction block (25001) and every
 * `transactional: true` one is not. `{db}` is replaced by the database's name.
 */
export interface StatementCase {
  sql: string;
  kind: string;
  transactional: boolean;
  target?: string;
  table?: string;
  /** Run before the case (outside a transaction), e.g. to put a subscription in the state that makes PostgreSQL refuse. */
  setup?: string[];
  /** Run after the case (errors ignored). */
  teardown?: string[];
  /** Lowest server_version_num where the case holds (the statement or the refusal is newer). */
  since?: number;
  /** The setup needs a superuser (subscriptions). */
  superuser?: boolean;
}

/** Objects every case can use (created once per test database). */
export const CASE_SCHEMA = [
  'CREATE TABLE x (id int PRIMARY KEY)',
  'CREATE TABLE cards (id int PRIMARY KEY, user_id int, c int REFERENCES x (id))',
  'CREATE INDEX i ON cards (user_id)',
  'CREATE TABLE p (a int) PARTITION BY RANGE (a)',
  'CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10)',
  'CREATE MATERIALIZED VIEW mv AS SELECT 1 AS a',
  'CREATE UNIQUE INDEX mv_a ON mv (a)',
  'CREATE FUNCTION f(bigint) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$',
  'CREATE FUNCTION trig() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$',
  'CREATE PUBLICATION bz_p1',
];

/** A subscription that cannot connect (port 1): created without connecting, so with a slot name and disabled. */
const conninfo = 'host=127.0.0.1 port=1 dbname=none connect_timeout=1';
const subscription = (opts = '') => [
  `CREATE SUBSCRIPTION bz_sub CONNECTION '${conninfo}' PUBLICATION bz_p1, bz_p2 WITH (connect = false${opts})`,
];
const enabled = [...subscription(), 'ALTER SUBSCRIPTION bz_sub ENABLE'];
const dropSubscription = [
  'ALTER SUBSCRIPTION bz_sub DISABLE',
  'ALTER SUBSCRIPTION bz_sub SET (slot_name = NONE)',
  'DROP SUBSCRIPTION bz_sub',
];
/** A case on the subscription bz_sub, put in the state `setup` first and dropped after. */
const sub = (sql: string, transactional: boolean, setup: string[], since?: number): StatementCase => ({
  sql,
  kind: sql.startsWith('DROP') ? 'drop subscription' : 'alter subscription',
  transactional,
  target: 'bz_sub',
  setup,
  teardown: dropSubscription,
  superuser: true,
  since,
});

export const STATEMENT_CASES: StatementCase[] = [
  // refused in a transaction block
  {
    sql: 'CREATE INDEX CONCURRENTLY i2 ON cards (user_id)',
    kind: 'create index concurrently',
    transactional: false,
    target: 'i2',
    table: 'cards',
  },
  {
    sql: 'CREATE INDEX CONCURRENTLY ON cards (user_id)',
    kind: 'create index concurrently',
    transactional: false,
    target: 'index on cards',
    table: 'cards',
  },
  { sql: 'DROP INDEX CONCURRENTLY IF EXISTS i', kind: 'drop index concurrently', transactional: false, target: 'i' },
  { sql: 'REINDEX INDEX CONCURRENTLY i', kind: 'reindex concurrently', transactional: false, target: 'i', table: 'i' },
  { sql: 'REINDEX TABLE CONCURRENTLY cards', kind: 'reindex concurrently', transactional: false, target: 'cards', table: 'cards' },
  { sql: 'REINDEX SCHEMA public', kind: 'reindex schema', transactional: false, target: 'public' },
  { sql: 'REINDEX SCHEMA CONCURRENTLY public', kind: 'reindex schema concurrently', transactional: false, target: 'public' },
  { sql: 'REINDEX DATABASE {db}', kind: 'reindex database', transactional: false, target: '{db}' },
  { sql: 'REINDEX (VERBOSE) DATABASE CONCURRENTLY {db}', kind: 'reindex database concurrently', transactional: false, target: '{db}' },
  { sql: 'REINDEX SYSTEM {db}', kind: 'reindex system', transactional: false, target: '{db}' },
  { sql: 'VACUUM (ANALYZE) cards', kind: 'vacuum', transactional: false, target: 'cards', table: 'cards' },
  { sql: 'VACUUM FULL cards', kind: 'vacuum full', transactional: false, target: 'cards', table: 'cards' },
  { sql: 'VACUUM (FULL, ANALYZE) cards, x', kind: 'vacuum full', transactional: false, target: 'cards, x', table: 'cards, x' },
  { sql: 'CLUSTER', kind: 'cluster', transactional: false },
  {
    sql: 'ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY',
    kind: 'alter table detach partition concurrently',
    transactional: false,
    target: 'p',
    table: 'p',
  },
  { sql: 'ALTER DATABASE {db} SET TABLESPACE pg_default', kind: 'alter database set tablespace', transactional: false, target: '{db}' },
  { sql: 'DISCARD ALL', kind: 'discard all', transactional: false },
  { sql: 'CREATE DATABASE bz_never_created', kind: 'createdb', transactional: false },
  { sql: 'DROP DATABASE IF EXISTS bz_never_created', kind: 'dropdb', transactional: false },
  { sql: "CREATE TABLESPACE bz_ts LOCATION '/nonexistent/bz_ts'", kind: 'create table space', transactional: false },
  { sql: 'DROP TABLESPACE IF EXISTS bz_ts', kind: 'drop table space', transactional: false },
  { sql: "ALTER SYSTEM SET work_mem = '4MB'", kind: 'alter system', transactional: false },
  { sql: "COMMIT PREPARED 'bz_gid'", kind: 'commit prepared', transactional: false },
  { sql: "ROLLBACK PREPARED 'bz_gid'", kind: 'rollback prepared', transactional: false },
  {
    sql: `CREATE SUBSCRIPTION bz_sub2 CONNECTION '${conninfo}' PUBLICATION bz_p1`,
    kind: 'create subscription',
    transactional: false,
    target: 'bz_sub2',
    superuser: true,
  },
  sub('ALTER SUBSCRIPTION bz_sub REFRESH PUBLICATION', false, enabled),
  sub('ALTER SUBSCRIPTION bz_sub SET PUBLICATION bz_p1', false, enabled),
  sub('ALTER SUBSCRIPTION bz_sub ADD PUBLICATION bz_p3', false, enabled),
  sub('ALTER SUBSCRIPTION bz_sub DROP PUBLICATION bz_p2', false, enabled),
  sub('ALTER SUBSCRIPTION bz_sub SET (failover = true)', false, subscription(), 170000),
  sub('ALTER SUBSCRIPTION bz_sub SET (two_phase = false)', false, subscription(', two_phase = true'), 180000),
  sub('DROP SUBSCRIPTION bz_sub', false, subscription()),

  // accepted in a transaction block
  {
    sql: 'CREATE UNIQUE INDEX i3 ON public.cards (id)',
    kind: 'create unique index',
    transactional: true,
    target: 'public.i3',
    table: 'public.cards',
  },
  { sql: 'DROP INDEX i', kind: 'drop index', transactional: true, target: 'i' },
  { sql: 'REINDEX TABLE cards', kind: 'reindex', transactional: true, target: 'cards', table: 'cards' },
  { sql: 'REINDEX INDEX i', kind: 'reindex', transactional: true, target: 'i', table: 'i' },
  { sql: 'REINDEX (CONCURRENTLY false) INDEX i', kind: 'reindex', transactional: true, target: 'i', table: 'i' },
  { sql: 'CLUSTER cards USING i', kind: 'cluster', transactional: true, target: 'cards', table: 'cards' },
  { sql: 'ANALYZE cards', kind: 'analyze', transactional: true, target: 'cards', table: 'cards' },
  { sql: 'ALTER TABLE p DETACH PARTITION p1', kind: 'alter table detach partition', transactional: true, target: 'p', table: 'p' },
  {
    sql: 'ALTER TABLE cards ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES x (id) NOT VALID',
    kind: 'alter table add foreign key',
    transactional: true,
    target: 'cards',
    table: 'cards',
  },
  {
    sql: 'ALTER TABLE cards VALIDATE CONSTRAINT cards_c_fkey',
    kind: 'alter table validate constraint',
    transactional: true,
    target: 'cards',
    table: 'cards',
  },
  { sql: 'CREATE MATERIALIZED VIEW mv2 AS SELECT 1 AS a', kind: 'create materialized view', transactional: true, target: 'mv2' },
  { sql: 'REFRESH MATERIALIZED VIEW CONCURRENTLY mv', kind: 'refresh materialized view concurrently', transactional: true, target: 'mv' },
  {
    sql: 'CREATE TRIGGER t AFTER INSERT ON cards FOR EACH STATEMENT EXECUTE FUNCTION trig()',
    kind: 'create trigger',
    transactional: true,
    target: 't',
    table: 'cards',
  },
  { sql: 'DROP TABLE cards', kind: 'drop table', transactional: true, target: 'cards', table: 'cards' },
  { sql: 'DROP FUNCTION f(bigint)', kind: 'drop function', transactional: true, target: 'f' },
  { sql: 'SET lock_timeout = 1000', kind: 'set', transactional: true, target: 'lock_timeout' },
  { sql: 'SET LOCAL lock_timeout = 1000', kind: 'set local', transactional: true, target: 'lock_timeout' },
  { sql: "ALTER DATABASE {db} SET work_mem = '4MB'", kind: 'alter database set', transactional: true },
  { sql: 'ALTER DATABASE {db} CONNECTION LIMIT 50', kind: 'alter database', transactional: true, target: '{db}' },
  { sql: 'DISCARD PLANS', kind: 'discard plans', transactional: true },
  { sql: 'DISCARD TEMP', kind: 'discard temp', transactional: true },
  {
    sql: `CREATE SUBSCRIPTION bz_sub3 CONNECTION '${conninfo}' PUBLICATION bz_p1 WITH (connect = false)`,
    kind: 'create subscription',
    transactional: true,
    target: 'bz_sub3',
    superuser: true,
  },
  sub('ALTER SUBSCRIPTION bz_sub SET PUBLICATION bz_p1 WITH (refresh = false)', true, enabled),
  sub('ALTER SUBSCRIPTION bz_sub DISABLE', true, enabled),
];

/** The case with `{db}` filled in. */
export const withDb = (c: StatementCase, db: string): StatementCase => {
  const fill = (s: string | undefined) => s?.replace(/\{db\}/g, db);
  return { ...c, sql: fill(c.sql)!, target: fill(c.target), table: fill(c.table) };
};

import { loadParser, splitSql } from '../../src/core/engine/statements.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { CASE_SCHEMA, STATEMENT_CASES, withDb } from '../helpers/statement-classes.js';

/**
 * The statement classes against a real server, so that classify() cannot drift from
 * PostgreSQL: each statement classified non-transactional really is refused in a
 * transaction block (SQLSTATE 25001), and each transactional one is not.
 */
let db: TestDatabase;
let superuser = false;
let version = 0;

beforeAll(async () => {
  await loadParser();
  db = await freshDatabase('classes');
  for (const q of CASE_SCHEMA) await db.sql.unsafe(q);
  const [r] = await db.sql<{ su: boolean; v: number }[]>`
    select (select rolsuper from pg_roles where rolname = current_user) as su, current_setting('server_version_num')::int as v`;
  superuser = r.su;
  version = r.v;
});

afterAll(async () => {
  await db.sql.unsafe('DROP SUBSCRIPTION IF EXISTS bz_sub').catch(() => undefined);
  await db.drop();
});

/** BEGIN; stmt; ROLLBACK on one session: the SQLSTATE of stmt, or 'ok'. */
async function inTransaction(sql: string): Promise<string> {
  const conn = await db.sql.reserve();
  try {
    await conn.unsafe('begin');
    try {
      await conn.unsafe(sql);
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    } finally {
      await conn.unsafe('rollback');
    }
  } finally {
    conn.release();
  }
}

describe('every statement class holds on the server', () => {
  it.each(STATEMENT_CASES.map((c) => [c.sql, c] as const))('%s', async (_sql, raw) => {
    const c = withDb(raw, db.name);
    if ((c.superuser && !superuser) || (c.since && version < c.since)) {
      console.warn(`skipped on this server (superuser ${superuser}, version ${version}): ${c.sql}`);
      return;
    }
    const [st] = splitSql(c.sql);
    expect(st.transactional).toBe(c.transactional);
    for (const q of c.setup ?? []) await db.sql.unsafe(q);
    try {
      const outcome = await inTransaction(c.sql);
      // refused ones must give exactly 25001; accepted ones must run (they are rolled back)
      expect({ sql: c.sql, outcome }).toEqual({ sql: c.sql, outcome: c.transactional ? 'ok' : '25001' });
    } finally {
      for (const q of c.teardown ?? []) await db.sql.unsafe(q).catch(() => undefined);
    }
  });
});

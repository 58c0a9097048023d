import type postgres from 'postgres';
import { ensureHistory } from '../../src/core/engine/history.js';
import { runScript } from '../../src/core/engine/runner.js';
import type { Script } from '../../src/core/engine/types.js';
import { loadParser, splitSql } from '../../src/core/engine/statements.js';
import type { EngineEvent } from '../../src/core/engine/events.js';
import { cliOn, dirArgs, runCliUntil } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { tempFixture } from '../helpers/fixtures.js';

/**
 * Issue 10 item 7 at run time: strong-lock statements that cannot run in a transaction get
 * lock_timeout and retries; resume reconciles what interrupted CONCURRENTLY statements left
 * (REINDEX _ccnew leftovers, a DROP INDEX CONCURRENTLY that completed unjournaled, an unnamed
 * CREATE INDEX CONCURRENTLY); CONCURRENTLY on a partitioned table is refused with the recipe.
 */
let db: TestDatabase;
beforeAll(() => loadParser());
beforeEach(async () => {
  db = await freshDatabase('resume');
});
afterEach(async () => {
  await db.drop();
});

const BASE = `CREATE TABLE t (id int PRIMARY KEY, a int, b int);
INSERT INTO t SELECT g, g % 100, g % 7 FROM generate_series(1, 5000) g;
CREATE INDEX t_a ON t (a);
ALTER TABLE t CLUSTER ON t_a;
CREATE TABLE p (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE p_2025 PARTITION OF p FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE p_2026 PARTITION OF p FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY RANGE (id);
CREATE TABLE p_2026_low PARTITION OF p_2026 FOR VALUES FROM (0) TO (1000);
CREATE INDEX p_id ON p (id);
INSERT INTO p SELECT g, date '2025-06-01' + (g % 400) FROM generate_series(1, 900) g;
`;

/** A fixture: 0001 creates the tables, 0002 is `sql`. Returns the CLI directory arguments. */
async function fixture(sql: string): Promise<string[]> {
  return dirArgs(
    await tempFixture(undefined, {
      'migrations/0001_tables.sql': BASE,
      'rollback/0001_tables.sql': 'DROP TABLE p; DROP TABLE t;',
      'migrations/0002_change.sql': sql,
      'rollback/0002_change.sql': 'SELECT 1;',
    }),
  );
}

const cli = cliOn(() => db.url, { timeoutMs: 120_000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A session holding `lock` in an open transaction until release(). */
async function blocker(lock: string): Promise<{ release: () => Promise<void>; conn: postgres.ReservedSql }> {
  const conn = await db.sql.reserve();
  await conn.unsafe('begin');
  await conn.unsafe(lock);
  let released = false;
  return {
    conn,
    release: async () => {
      if (released) return;
      released = true;
      await conn.unsafe('rollback').catch(() => undefined);
      conn.release();
    },
  };
}

/** Runs `sql` on its own session and cancels it after ms (statement_timeout): an interrupted statement. */
async function interrupted(sql: string, ms: number): Promise<string | undefined> {
  const conn = await db.sql.reserve();
  try {
    await conn.unsafe(`set statement_timeout = ${ms}`);
    await conn.unsafe(sql);
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  } finally {
    conn.release();
  }
}

const indexes = async (table: string) =>
  db.sql<{ name: string; valid: boolean; def: string }[]>`
    select c.relname as name, i.indisvalid as valid, pg_get_indexdef(i.indexrelid) as def
      from pg_index i join pg_class c on c.oid = i.indexrelid where i.indrelid = ${table}::regclass order by 1`;

const invalidCount = async () => Number((await db.sql<{ n: number }[]>`select count(*)::int as n from pg_index where not indisvalid`)[0].n);

describe('strong locks outside a transaction get lock_timeout and retries', () => {
  it.each([
    ['VACUUM FULL t;'],
    ['CLUSTER;'],
    ['REINDEX SCHEMA public;'],
    ['REINDEX TABLE p;'], // partitioned: PostgreSQL runs it outside a transaction (reclassified at run time)
  ])(
    '%s behind a blocking transaction: lock timeout, retries, exit 5 long before the blocker ends; the rerun applies it',
    async (sql) => {
      const dirs = await fixture(sql);
      expect((await cli(['migrate', '--to', '1', ...dirs])).code).toBe(0);
      const b = await blocker('lock table t, p in row exclusive mode');
      const release = setTimeout(() => void b.release(), 40_000); // today's main waits for this
      try {
        const r = await cli(['migrate', '--lock-timeout', '200ms', '--lock-retries', '2', ...dirs]);
        expect({ code: r.code, ms: r.ms < 30_000 }).toEqual({ code: 5, ms: true });
        expect(r.stderr).toMatch(/lock timeout; retry 1\/2/);
        expect(r.stderr).toMatch(/retry 2\/2/);
        expect(r.stderr).toMatch(/55P03/);
      } finally {
        clearTimeout(release);
        await b.release();
      }
      const again = await cli(['migrate', ...dirs]);
      expect({ code: again.code, err: again.code ? again.stderr : '' }).toEqual({ code: 0, err: '' });
    },
    180_000,
  );

  it('the session lock_timeout is set only around the statement: back to 0 after success and after failure', async () => {
    expect((await cli(['migrate', '--to', '1', ...(await fixture('SELECT 1;'))])).code).toBe(0);
    const conn = await db.sql.reserve();
    try {
      await ensureHistory(conn);
      await conn`select set_config('lock_timeout', '0', false)`;
      const events: EngineEvent[] = [];
      const script = (sql: string): Script => ({
        version: 2,
        name: 'change',
        checksum: 'x',
        direction: 'up',
        path: '0002_change.sql',
        statements: splitSql(sql),
      });
      const ctx = {
        conn,
        emit: (e: EngineEvent) => void events.push(e),
        offset: 0,
        total: 2,
        lockTimeoutMs: 150,
        lockRetries: 1,
        retryBaseMs: 10,
      };
      const b = await blocker('lock table t in row exclusive mode');
      try {
        await expect(runScript(script('VACUUM FULL t;\nSELECT 1;'), ctx)).rejects.toMatchObject({ exitCode: 5 });
      } finally {
        await b.release();
      }
      expect(events.filter((e) => e.type === 'retry')).toHaveLength(1);
      expect((await conn<{ v: string }[]>`select current_setting('lock_timeout') as v`)[0].v).toBe('0');
      await runScript(script('VACUUM FULL t;\nSELECT 1;'), ctx);
      expect((await conn<{ v: string }[]>`select current_setting('lock_timeout') as v`)[0].v).toBe('0');
    } finally {
      conn.release();
    }
  });

  it('CONCURRENTLY builds keep waiting for older transactions (no lock_timeout on their waits)', async () => {
    const dirs = await fixture('CREATE INDEX CONCURRENTLY t_b ON t (b);');
    expect((await cli(['migrate', '--to', '1', ...dirs])).code).toBe(0);
    const b = await blocker('lock table t in row exclusive mode');
    const run = cli(['migrate', '--lock-timeout', '200ms', '--lock-retries', '0', ...dirs]);
    await sleep(3000); // far beyond lock_timeout
    await b.release();
    const r = await run;
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    expect((await indexes('t')).find((i) => i.name === 't_b')?.valid).toBe(true);
  });
});

describe('resume after interrupted CONCURRENTLY statements', () => {
  it.each([['REINDEX INDEX CONCURRENTLY t_a;'], ['REINDEX TABLE CONCURRENTLY t;']])(
    '%s: the rerun drops the INVALID _ccnew leftovers of the interrupted one',
    async (sql) => {
      const dirs = await fixture(sql);
      expect((await cli(['migrate', '--to', '1', ...dirs])).code).toBe(0);
      const b = await blocker('lock table t in row exclusive mode');
      try {
        expect(await interrupted(sql, 1000)).toBe('57014');
      } finally {
        await b.release();
      }
      expect((await indexes('t')).filter((i) => !i.valid).map((i) => i.name)).toEqual(expect.arrayContaining(['t_a_ccnew']));
      const r = await cli(['migrate', ...dirs]);
      expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
      expect(r.stderr).toMatch(/t_a_ccnew is an INVALID leftover of an interrupted REINDEX CONCURRENTLY: dropping it/);
      expect((await indexes('t')).map((i) => i.name)).toEqual(['t_a', 't_pkey']);
      expect(await invalidCount()).toBe(0);
    },
  );

  it('a DROP INDEX CONCURRENTLY killed while waiting, that the server then completed: the rerun takes it as done', async () => {
    const dirs = await fixture(
      'CREATE INDEX CONCURRENTLY t_b ON t (b);\nDROP INDEX CONCURRENTLY t_a;\nCREATE INDEX CONCURRENTLY t_ab ON t (a, b);',
    );
    expect((await cli(['migrate', '--to', '1', ...dirs])).code).toBe(0);
    const b = await blocker('select count(*) from t where a = 1');
    const { pid, result } = await runCliUntil(['-d', db.url, 'migrate', ...dirs], /\[2\/3\] /, { timeoutMs: 60_000 });
    await sleep(500);
    process.kill(pid, 'SIGKILL');
    await result;
    await b.release(); // the orphaned server session finishes the drop; nothing journals it
    for (let i = 0; i < 100 && (await indexes('t')).some((x) => x.name === 't_a'); i++) await sleep(100);
    const r = await cli(['migrate', '--lock-wait', '30s', ...dirs]);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    expect((await indexes('t')).map((i) => i.name)).toEqual(['t_ab', 't_b', 't_pkey']);
    expect(await invalidCount()).toBe(0);
  });

  it('DROP INDEX CONCURRENTLY of an index that is already gone: a warning, done, exit 0', async () => {
    const dirs = await fixture('DROP INDEX CONCURRENTLY t_a;');
    expect((await cli(['migrate', '--to', '1', ...dirs])).code).toBe(0);
    await db.sql`drop index t_a`;
    const r = await cli(['migrate', ...dirs]);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    expect(r.stderr).toMatch(/index t_a does not exist: taking DROP INDEX CONCURRENTLY at line 1 as done/);
  });

  it('an index left INVALID by an interrupted DROP INDEX CONCURRENTLY is dropped again', async () => {
    const dirs = await fixture('DROP INDEX CONCURRENTLY t_a;');
    expect((await cli(['migrate', '--to', '1', ...dirs])).code).toBe(0);
    const b = await blocker('select count(*) from t where a = 1');
    try {
      expect(await interrupted('drop index concurrently t_a', 1000)).toBe('57014');
    } finally {
      await b.release();
    }
    expect((await indexes('t')).find((i) => i.name === 't_a')?.valid).toBe(false);
    const r = await cli(['migrate', ...dirs]);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    expect((await indexes('t')).map((i) => i.name)).toEqual(['t_pkey']);
  });

  const UNNAMED = '-- boosterz-lint: allow unnamed-concurrent-index\nCREATE INDEX CONCURRENTLY ON t (b) WHERE b > 0;';
  const withDefinition = async () => (await indexes('t')).filter((i) => i.def.endsWith('USING btree (b) WHERE (b > 0)'));

  it('an unnamed CREATE INDEX CONCURRENTLY killed while waiting, that the server then completed: no duplicate on rerun', async () => {
    const dirs = await fixture(UNNAMED);
    expect((await cli(['migrate', '--to', '1', ...dirs])).code).toBe(0);
    const b = await blocker('lock table t in row exclusive mode');
    const { pid, result } = await runCliUntil(['-d', db.url, 'migrate', ...dirs], /\[1\/1\] /, { timeoutMs: 60_000 });
    await sleep(500);
    process.kill(pid, 'SIGKILL');
    await result;
    await b.release();
    for (let i = 0; i < 100 && !(await withDefinition()).some((x) => x.valid); i++) await sleep(100);
    const r = await cli(['migrate', '--lock-wait', '30s', ...dirs]);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    expect((await withDefinition()).map((i) => [i.name, i.valid])).toEqual([['t_b_idx', true]]);
    // the orphaned session finished the build (or, where the server cancels a statement whose client is gone, left it INVALID)
    expect(r.stderr).toMatch(
      /t_b_idx on t already has the definition of the unnamed index at line 2|t_b_idx has the definition .* is INVALID/,
    );
  });

  it('an unnamed CREATE INDEX CONCURRENTLY interrupted mid-build: the INVALID one is dropped and built once', async () => {
    const dirs = await fixture(UNNAMED);
    expect((await cli(['migrate', '--to', '1', ...dirs])).code).toBe(0);
    const b = await blocker('lock table t in row exclusive mode');
    try {
      expect(await interrupted('CREATE INDEX CONCURRENTLY ON t (b) WHERE b > 0', 1000)).toBe('57014');
    } finally {
      await b.release();
    }
    expect((await withDefinition()).map((i) => [i.name, i.valid])).toEqual([['t_b_idx', false]]);
    const r = await cli(['migrate', ...dirs]);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    expect((await withDefinition()).map((i) => [i.name, i.valid])).toEqual([['t_b_idx', true]]);
    expect(await invalidCount()).toBe(0);
  });

  it('an unnamed CREATE INDEX CONCURRENTLY is built when only other definitions exist', async () => {
    const dirs = await fixture(UNNAMED);
    expect((await cli(['migrate', '--to', '1', ...dirs])).code).toBe(0);
    await db.sql`create index t_b_all on t (b)`;
    await db.sql`create unique index t_b_uniq on t (id, b) where b > 0`;
    const r = await cli(['migrate', ...dirs]);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    expect((await withDefinition()).map((i) => i.name)).toEqual(['t_b_idx']);
  });
});

describe('CONCURRENTLY on a partitioned table', () => {
  it('is refused before it runs (exit 6) with the ON ONLY / per-partition / ATTACH PARTITION recipe, and the recipe works', async () => {
    const dirs = await fixture('CREATE INDEX CONCURRENTLY ev_at_idx ON ev (at);');
    expect((await cli(['migrate', '--to', '1', ...dirs])).code).toBe(0);
    // created outside the migration set: lint cannot know ev is partitioned, the run must
    await db.sql.unsafe(`create table ev (id int, at date) partition by range (at);
      create table ev_a partition of ev for values from ('2025-01-01') to ('2026-01-01');
      create table ev_b partition of ev for values from ('2026-01-01') to ('2027-01-01') partition by range (id);
      create table ev_b_low partition of ev_b for values from (0) to (100000);
      insert into ev select g, date '2025-01-01' + g from generate_series(1, 700) g`);
    const r = await cli(['migrate', ...dirs]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/ev is a partitioned table: PostgreSQL cannot CREATE INDEX CONCURRENTLY on it/);
    const recipe = r.stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^(CREATE|ALTER) /.test(l))
      .map((l) => l.replace(/;\s*(--.*)?$/, ''));
    expect(recipe).toEqual([
      'CREATE INDEX "ev_at_idx" ON ONLY "public"."ev" (at)',
      'CREATE INDEX CONCURRENTLY "ev_a_ev_at_idx" ON "public"."ev_a" (at)',
      'ALTER INDEX "public"."ev_at_idx" ATTACH PARTITION "public"."ev_a_ev_at_idx"',
      'CREATE INDEX "ev_b_ev_at_idx" ON ONLY "public"."ev_b" (at)',
      'ALTER INDEX "public"."ev_at_idx" ATTACH PARTITION "public"."ev_b_ev_at_idx"',
      'CREATE INDEX CONCURRENTLY "ev_b_low_ev_at_idx" ON "public"."ev_b_low" (at)',
      'ALTER INDEX "public"."ev_b_ev_at_idx" ATTACH PARTITION "public"."ev_b_low_ev_at_idx"',
    ]);
    for (const q of recipe) await db.sql.unsafe(q);
    expect((await indexes('ev')).map((i) => [i.name, i.valid])).toEqual([['ev_at_idx', true]]);
    expect(await invalidCount()).toBe(0);
  });

  it('REINDEX TABLE of a partitioned table runs (outside a transaction)', async () => {
    const dirs = await fixture('REINDEX TABLE p;\nCLUSTER t USING t_a;');
    expect((await cli(['migrate', '--to', '1', ...dirs])).code).toBe(0);
    const r = await cli(['migrate', ...dirs]);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    expect(r.stderr).toMatch(/REINDEX p at .*0002_change\.sql:1 is on a partitioned table: PostgreSQL runs it outside a transaction/);
  });
});

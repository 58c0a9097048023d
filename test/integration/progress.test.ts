import { dirArgs, ndjson, runCli, runCliUntil } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { tempFixture } from '../helpers/fixtures.js';

let db: TestDatabase;
beforeEach(async () => {
  db = await freshDatabase('progress');
  await db.sql.unsafe(`alter database ${db.name} set maintenance_work_mem = '1MB'`);
});
afterEach(async () => {
  await db.drop();
});

const events = (stdout: string) => ndjson(stdout);

describe('live progress', () => {
  it('reports the index build phase and percentage, polled on a second connection', async () => {
    const f = await tempFixture(undefined, {
      'migrations/0001_big.sql':
        'CREATE TABLE big (id bigint PRIMARY KEY, label text NOT NULL);\nINSERT INTO big SELECT i, md5(i::text) || md5((i * 7)::text) FROM generate_series(1, 1500000) AS i;\n',
      'rollback/0001_big.sql': '-- boosterz-lint: allow drop\nDROP TABLE IF EXISTS big;\n',
      'migrations/0002_index.sql': 'CREATE INDEX CONCURRENTLY big_label_idx ON big (label, id);\n',
      'rollback/0002_index.sql': 'DROP INDEX CONCURRENTLY IF EXISTS big_label_idx;\n',
    });
    const r = await runCli(['-d', db.url, 'migrate', '--json', ...dirArgs(f)], { timeoutMs: 300_000 });
    expect(r.code).toBe(0);
    const progress = events(r.stdout).filter((e) => e.type === 'progress' && e.version === 2);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.some((e) => /building index|sorting|loading tuples|validation|waiting/.test(e.phase ?? ''))).toBe(true);
    const pcts = progress.map((e) => e.pct).filter((p) => typeof p === 'number');
    expect(pcts.length).toBeGreaterThan(0);
    expect(pcts.every((p) => p >= 0 && p <= 100)).toBe(true);
    expect(progress.every((e) => e.runId === progress[0].runId && e.target === 'big_label_idx')).toBe(true);
  }, 300_000);

  it('pre-flight: a transaction older than --max-transaction-age stops the run (exit 6) unless --yes', async () => {
    const f = await tempFixture(undefined, {
      'migrations/0001_t.sql': 'CREATE TABLE t (id int PRIMARY KEY);\n',
      'rollback/0001_t.sql': '-- boosterz-lint: allow drop\nDROP TABLE IF EXISTS t;\n',
    });
    const app = await db.sql.reserve();
    try {
      await app`set application_name = 'forgotten-psql'`;
      await app`begin`;
      await app`select 1`;
      await new Promise((r) => setTimeout(r, 2500));
      const r = await runCli(['-d', db.url, 'migrate', '--max-transaction-age', '2s', ...dirArgs(f)]);
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/warning: pid \d+ \(forgotten-psql, postgres, idle in transaction\) has a transaction open/);
      expect(r.stderr).toMatch(
        /error: 1 transaction\(s\) open for more than 2 s would block index builds and ALTER TABLE: pid \d+ \(forgotten-psql/,
      );
      const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from pg_tables where tablename = 't'`;
      expect(n).toBe(0);
      const yes = await runCli(['-d', db.url, 'migrate', '--max-transaction-age', '2s', '--yes', ...dirArgs(f)]);
      expect(yes.code).toBe(0);
    } finally {
      await app`rollback`;
      app.release();
    }
  });

  it('a statement that waits for a lock shows who blocks it, retries after lock_timeout, then succeeds', async () => {
    const f = await tempFixture(undefined, {
      'migrations/0001_t.sql': 'CREATE TABLE t (id int PRIMARY KEY);\n',
      'rollback/0001_t.sql': '-- boosterz-lint: allow drop\nDROP TABLE IF EXISTS t;\n',
      'migrations/0002_col.sql': 'ALTER TABLE t ADD COLUMN note text;\n',
      'rollback/0002_col.sql': '-- boosterz-lint: allow drop\nALTER TABLE t DROP COLUMN IF EXISTS note;\n',
    });
    expect((await runCli(['-d', db.url, 'migrate', '--to', '1', ...dirArgs(f)])).code).toBe(0);
    const app = await db.sql.reserve();
    await app`set application_name = 'long-report'`;
    await app`begin`;
    await app`select count(*) from t`; // holds ACCESS SHARE until commit
    const [{ pid }] = await app<{ pid: number }[]>`select pg_backend_pid() as pid`;
    // the blocker goes once the run has said who blocks it and has retried after a lock timeout
    const seen = /^(?=[\s\S]*"type":"retry")(?=[\s\S]*("type":"progress"[^\n]*"waiting":\[\{|"waiting":\[\{[^\n]*"type":"progress"))/;
    const { result: run } = await runCliUntil(
      ['-d', db.url, 'migrate', '--json', '--lock-timeout', '1s', '--lock-retries', '10', ...dirArgs(f)],
      seen,
    );
    await app`commit`;
    app.release();
    const r = await run;
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    const ev = events(r.stdout);
    const retries = ev.filter((e) => e.type === 'retry');
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]).toMatchObject({ attempt: 1, of: 10, reason: expect.stringMatching(/lock timeout/) });
    const waiting = ev.filter((e) => e.type === 'progress' && e.waiting.length);
    expect(waiting.length).toBeGreaterThan(0);
    expect(waiting[0].waiting[0]).toMatchObject({ pid, application_name: 'long-report', state: 'idle in transaction' });
    expect(ev.at(-1)).toMatchObject({ type: 'summary', ok: true, versions: [2] });
  }, 120_000);
});

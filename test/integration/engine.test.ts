import { appendFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { openClient, resolveTarget } from '../../src/db/connection.js';
import { BoosterzError } from '../../src/errors.js';
import { cliOn, dirArgs, fixture, ndjson, runCli, runCliUntil } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { tempFixture } from '../helpers/fixtures.js';

let db: TestDatabase;
beforeEach(async () => {
  db = await freshDatabase();
});
afterEach(async () => {
  await db.drop();
});

const basic = dirArgs(fixture('basic'));
/** The advisory lock key the slow fixture's second statement waits for; and the NDJSON event of a run that has reached it (it holds the migration lock). */
const GATE = 4242;
const AT_GATE = /"type":"statement:start"[^\n]*"index":1\b/;
const cli = cliOn(() => db.url);
const tables = async () =>
  (await db.sql<{ t: string }[]>`select table_name as t from information_schema.tables where table_schema = 'public' order by 1`).map(
    (r) => r.t,
  );
const history = async () =>
  db.sql<{ version: number; state: string }[]>`select version, state from boosterz_db.schema_history order by version`;

describe('migrate / status / rollback', () => {
  it('applies, reports status, does nothing on rerun, rolls back to 0', async () => {
    const first = await cli(['migrate', ...basic]);
    expect(first.stderr).toMatch(/\[1\/7\] 0001 create table authors/);
    expect(first.code).toBe(0);
    expect(await tables()).toEqual(['author_books', 'authors', 'books']);
    expect(await history()).toEqual([
      { version: 1, state: 'applied' },
      { version: 2, state: 'applied' },
      { version: 3, state: 'applied' },
    ]);
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from boosterz_db.statement_journal`;
    expect(n).toBe(0);

    const st = await cli(['status', '--json', ...basic]);
    expect(st.code).toBe(0);
    const s = JSON.parse(st.stdout);
    expect(s.current).toBe(3);
    expect(s.lines.map((l: { state: string }) => l.state)).toEqual(['applied', 'applied', 'applied']);

    const again = await cli(['migrate', ...basic]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/nothing to do/);

    const back = await cli(['rollback', '--to', '0', '--yes', ...basic]);
    expect(back.code).toBe(0);
    expect(await tables()).toEqual([]);
    expect(await history()).toEqual([]);
  });

  it('dry-run shows the plan and writes nothing', async () => {
    const r = await cli(['migrate', '--dry-run', ...basic]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/create index concurrently.*books_author_id_idx.*books.*outside any transaction/);
    expect(r.stdout).toMatch(/create table.*authors.*in the migration transaction/);
    const [{ ok }] = await db.sql<{ ok: boolean }[]>`select to_regnamespace('boosterz_db') is null as ok`;
    expect(ok).toBe(true);
  });

  it('migrate --to and rollback --steps move one version at a time; rollback asks for --yes off a TTY', async () => {
    expect((await cli(['migrate', '--to', '1', ...basic])).code).toBe(0);
    expect((await history()).map((h) => h.version)).toEqual([1]);
    expect((await cli(['migrate', ...basic])).code).toBe(0);
    const refused = await cli(['rollback', ...basic]);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/pass --yes/);
    expect((await history()).map((h) => h.version)).toEqual([1, 2, 3]);
    expect((await cli(['rollback', '--steps', '2', '--yes', ...basic])).code).toBe(0);
    expect((await history()).map((h) => h.version)).toEqual([1]);
    expect(await tables()).toEqual(['authors', 'books']);
  });

  it('streams NDJSON events ending in a summary with --json', async () => {
    const r = await cli(['migrate', '--json', ...basic]);
    expect(r.code).toBe(0);
    const events = ndjson(r);
    expect(events[0].type).toBe('run:start');
    expect(events.filter((e) => e.type === 'statement:done')).toHaveLength(7);
    const last = events[events.length - 1];
    expect(last).toMatchObject({ type: 'summary', ok: true, versions: [1, 2, 3] });
    expect(new Set(events.map((e) => e.runId)).size).toBe(1);
  });
});

describe('refusals', () => {
  it('refuses an applied migration whose file changed (exit 6, both checksums)', async () => {
    const f = await tempFixture('basic');
    expect((await cli(['migrate', ...dirArgs(f)])).code).toBe(0);
    await appendFile(join(f.migrations, '0003_view.sql'), '\n-- edited after the fact\n');
    const r = await cli(['migrate', ...dirArgs(f)]);
    expect(r.code).toBe(6);
    expect(r.stderr.split('\n')[0]).toMatch(
      /^error: an applied migration differ.*0003_view.sql changed after it was applied: database [0-9a-f]{64}, file [0-9a-f]{64}$/,
    );
  });

  it('refuses a database with tables but no history, then baseline makes migrate continue', async () => {
    await db.sql`create table authors (id bigint generated always as identity primary key, name text not null)`;
    await db.sql`create table books (id bigint generated always as identity primary key, author_id bigint not null references authors (id), title text not null)`;
    const r = await cli(['migrate', ...basic]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/baseline --version/);
    expect(await tables()).toEqual(['authors', 'books']);
    const b = await cli(['baseline', '--version', '1', ...basic]);
    expect(b.code).toBe(0);
    expect(await history()).toEqual([{ version: 1, state: 'baselined' }]);
    expect((await cli(['migrate', ...basic])).code).toBe(0);
    expect((await history()).map((h) => h.state)).toEqual(['baselined', 'applied', 'applied']);
    const below = await cli(['rollback', '--to', '0', '--yes', ...basic]);
    expect(below.code).toBe(6);
    expect(below.stderr).toMatch(/was baselined/);
    expect((await cli(['baseline', '--version', '1', ...basic])).code).toBe(6);
  });

  it('refuses a pending migration that breaks a lint rule (exit 6) unless --no-lint', async () => {
    const f = await tempFixture('basic', {
      'migrations/0004_idx.sql': 'CREATE INDEX books_title_plain ON books (title);\n',
      'rollback/0004_idx.sql': 'DROP INDEX IF EXISTS books_title_plain;\n',
    });
    const r = await cli(['migrate', ...dirArgs(f)]);
    expect(r.code).toBe(6);
    expect(r.stderr.split('\n')[0]).toMatch(/lint found 1 problem.*0004_idx.sql:1: BZ001 index-not-concurrent/);
    expect(await tables()).toEqual([]);
    expect((await cli(['migrate', '--no-lint', ...dirArgs(f)])).code).toBe(0);
    const lint = await runCli(['lint', '--json', ...dirArgs(f)]);
    expect(lint.code).toBe(1);
    expect(JSON.parse(lint.stdout).findings).toHaveLength(1);
    expect((await runCli(['lint', ...basic])).code).toBe(0);
    const missing = await runCli(['lint', '/nonexistent/0001_x.sql']);
    expect([missing.code, missing.stderr.split('\n')[0]]).toEqual([2, 'error: lint: no such file: /nonexistent/0001_x.sql']);
  });

  it('gives a clear error for a gap in versions (exit 2)', async () => {
    const f = await tempFixture('basic', { 'migrations/0005_x.sql': 'select 1', 'rollback/0005_x.sql': 'select 1' });
    const r = await cli(['migrate', ...dirArgs(f)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/gap in migration versions: 3 is followed by 5/);
  });
});

describe('failures', () => {
  it('a failing statement in a transactional migration leaves nothing of it (exit 5)', async () => {
    const f = await tempFixture('basic');
    await writeFile(
      join(f.migrations, '0003_view.sql'),
      'CREATE TABLE reviews (id int primary key);\nINSERT INTO reviews VALUES (1), (1);\n',
    );
    const r = await cli(['migrate', ...dirArgs(f)]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/migration 3 \(view\) failed at statement 2\/2, .*0003_view.sql:2: \[23505\]/);
    expect(r.stderr).toMatch(/nothing of migration 3 was applied/);
    expect(await tables()).toEqual(['authors', 'books']);
    expect(await history()).toEqual([
      { version: 1, state: 'applied' },
      { version: 2, state: 'applied' },
      { version: 3, state: 'failed' },
    ]);
    const st = JSON.parse((await cli(['status', '--json', ...dirArgs(f)])).stdout);
    expect(st.lines[2]).toMatchObject({ state: 'failed', error: expect.stringMatching(/duplicate key/) });
  });

  it('a failing statement in a non-transactional migration is journaled; after fixing the cause the rerun resumes', async () => {
    const f = await tempFixture('basic', {
      'migrations/0003_view.sql': [
        'CREATE INDEX CONCURRENTLY books_lower_title_idx ON books (lower(title));',
        'CREATE UNIQUE INDEX CONCURRENTLY books_title_key ON books (title);',
        'ALTER TABLE books ADD COLUMN isbn text;',
      ].join('\n'),
      'rollback/0003_view.sql':
        'ALTER TABLE books DROP COLUMN IF EXISTS isbn;\nDROP INDEX CONCURRENTLY IF EXISTS books_title_key;\nDROP INDEX CONCURRENTLY IF EXISTS books_lower_title_idx;\n',
    });
    expect((await cli(['migrate', '--to', '2', ...dirArgs(f)])).code).toBe(0);
    await db.sql`insert into books (author_id, title) values (1, 'Germinal'), (1, 'Germinal')`;
    const r = await cli(['migrate', ...dirArgs(f)]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/failed at statement 2\/3.*\[23505\]/);
    expect(r.stderr).toMatch(/1 of 3 statements of 3 are done and journaled; fix the cause and rerun to resume at statement 2/);
    const journal = await db.sql<
      { statement_index: number }[]
    >`select statement_index from boosterz_db.statement_journal where version = 3`;
    expect(journal.map((j) => j.statement_index)).toEqual([0]);
    const st = JSON.parse((await cli(['status', '--json', ...dirArgs(f)])).stdout);
    expect(st.lines[2]).toMatchObject({ state: 'partial', progress: { done: 1, total: 3 } });
    // the failed unique build left an INVALID index behind
    const [{ valid }] = await db.sql<
      { valid: boolean }[]
    >`select indisvalid as valid from pg_index where indexrelid = 'books_title_key'::regclass`;
    expect(valid).toBe(false);

    await db.sql`delete from books where id = (select max(id) from books)`;
    const again = await cli(['migrate', '--json', ...dirArgs(f)]);
    expect(again.code).toBe(0);
    const events = ndjson(again);
    expect(events.filter((e) => e.type === 'statement:skip').map((e) => e.index)).toEqual([0]);
    expect(events.filter((e) => e.type === 'statement:done').map((e) => e.index)).toEqual([1, 2]);
    // the summary counts the statements this run ran, not those an earlier run completed
    expect(events.at(-1)).toMatchObject({ type: 'summary', migrations: [{ version: 3, statements: 2 }] });
    expect(events.some((e) => e.type === 'warning' && /INVALID/.test(e.message))).toBe(true);
    const idx = await db.sql<
      { name: string; valid: boolean }[]
    >`select c.relname as name, i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where i.indrelid = 'books'::regclass order by 1`;
    expect(idx).toEqual([
      { name: 'books_author_id_idx', valid: true },
      { name: 'books_lower_title_idx', valid: true },
      { name: 'books_pkey', valid: true },
      { name: 'books_title_idx', valid: true },
      { name: 'books_title_key', valid: true },
    ]);
    expect((await history()).at(-1)).toEqual({ version: 3, state: 'applied' });
  });

  it('two concurrent runs: one waits for nothing and exits 4 naming the holder; nothing is applied twice', async () => {
    const f = await tempFixture(undefined, {
      'migrations/0001_slow.sql': `CREATE TABLE slow (id int);\nSELECT pg_advisory_xact_lock(${GATE});\nINSERT INTO slow VALUES (1);\n`,
      'rollback/0001_slow.sql': 'DROP TABLE IF EXISTS slow;\n',
    });
    // the first run holds the migration lock and waits at the gate (an advisory lock this test holds) until the second has run
    const gate = await db.sql.reserve();
    const slow = ['-d', db.url, 'migrate', '--json', '--lock-timeout', '5m', ...dirArgs(f)];
    try {
      await gate`select pg_advisory_lock(${GATE})`;
      const a = (await runCliUntil(slow, AT_GATE)).result;
      const b = await cli(['migrate', ...dirArgs(f)]);
      await gate`select pg_advisory_unlock(${GATE})`;
      const ra = await a;
      expect(ra.code).toBe(0);
      expect(b.code).toBe(4);
      expect(b.stderr.split('\n')[0]).toMatch(/another run holds the migration lock: pid \d+ \(boosterz-db\/migrate.*since \d{4}-/);
      const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from slow`;
      expect(n).toBe(1);
      // with --lock-wait the second run queues behind the first, then finds nothing to do
      expect((await cli(['rollback', '--to', '0', '--yes', ...dirArgs(f)])).code).toBe(0);
      await gate`select pg_advisory_lock(${GATE})`;
      const c = (await runCliUntil(slow, AT_GATE)).result;
      const d = await runCliUntil(
        ['-d', db.url, 'migrate', '--lock-wait', '20', ...dirArgs(f)],
        /waiting for the migration lock held by pid \d+ \(boosterz-db\/migrate\)/,
      );
      await gate`select pg_advisory_unlock(${GATE})`;
      expect((await c).code).toBe(0);
      const rd = await d.result;
      expect(rd.code).toBe(0);
      expect(rd.stdout).toMatch(/nothing to do/);
    } finally {
      await gate`select pg_advisory_unlock_all()`;
      gate.release();
    }
  });
});

describe('connection and usage errors', () => {
  it('a terminated session mid-migration: exit 5 with one clean line; the rerun resumes', async () => {
    const f = await tempFixture(undefined, {
      'migrations/0001_t.sql': 'CREATE TABLE t (id int);\n',
      'rollback/0001_t.sql': '-- boosterz-lint: allow drop\nDROP TABLE IF EXISTS t;\n',
      'migrations/0002_slow.sql':
        'CREATE INDEX CONCURRENTLY t_a ON t (id);\nSELECT pg_sleep(5);\nCREATE INDEX CONCURRENTLY t_b ON t (id, id);\n',
      'rollback/0002_slow.sql': 'DROP INDEX CONCURRENTLY IF EXISTS t_b;\nDROP INDEX CONCURRENTLY IF EXISTS t_a;\n',
    });
    const run = cli(['migrate', ...dirArgs(f)]);
    let killed = 0;
    for (let i = 0; i < 50 && !killed; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const rows =
        await db.sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${db.name} and query like '%pg_sleep(5)%' and pid <> pg_backend_pid()`;
      killed = rows.length;
    }
    const r = await run;
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^error: lost the connection to the server/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const again = await cli(['migrate', ...dirArgs(f)]);
    expect({ code: again.code, err: again.code ? again.stderr : '' }).toEqual({ code: 0, err: '' });
    expect((await history()).map((h) => h.state)).toEqual(['applied', 'applied']);
  });

  it('a rollback script edited while its rollback was part-way is refused (exit 6), not silently skipped', async () => {
    const f = await tempFixture('basic');
    expect((await cli(['migrate', ...dirArgs(f)])).code).toBe(0);
    // rollback of 0002 stops part-way: its middle statement fails
    await writeFile(
      join(f.rollback, '0002_indexes.sql'),
      'DROP INDEX CONCURRENTLY IF EXISTS books_title_idx;\nDROP FUNCTION book_count(text);\nDROP INDEX CONCURRENTLY IF EXISTS books_author_id_idx;\n',
    );
    expect((await cli(['rollback', '--to', '1', '--yes', ...dirArgs(f)])).code).toBe(5);
    await writeFile(
      join(f.rollback, '0002_indexes.sql'),
      'SELECT 1;\nDROP INDEX CONCURRENTLY IF EXISTS books_title_idx;\nDROP FUNCTION IF EXISTS book_count(bigint);\nDROP INDEX CONCURRENTLY IF EXISTS books_author_id_idx;\n',
    );
    const r = await cli(['rollback', '--to', '1', '--yes', ...dirArgs(f)]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/changed while its rollback was part-way/);
  });

  it('unreachable host: exit 3 within 10 s', async () => {
    const r = await runCli(['status', '-d', 'postgres://u:pw@127.0.0.1:1/db', ...basic]);
    expect(r.code).toBe(3);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.stderr.split('\n')[0]).toMatch(/^error: cannot connect to postgres:\/\/u:\*\*\*\*@127.0.0.1:1\/db: .*ECONNREFUSED/);
  });

  it("--verbose shows the driver's error behind a one-line error, the password masked", async () => {
    const u = new URL(db.url);
    u.password = 'Wr0ngSecret!';
    const quiet = await runCli(['status', '-d', u.toString(), ...basic]);
    expect(quiet.code).toBe(3);
    expect(quiet.stderr).not.toMatch(/caused by/);
    const r = await runCli(['status', '--verbose', '-d', u.toString(), ...basic]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^ {2}caused by: PostgresError \[28P01\]: password authentication failed for user "postgres"$/m);
    expect(r.stderr + r.stdout).not.toMatch(/Wr0ngSecret/);
  });

  it('wrong password: exit 3, the password never printed (URL, PG* variables, --json)', async () => {
    const u = new URL(db.url);
    u.password = 'Wr0ngSecret!';
    const r = await runCli(['status', '--json', '-d', u.toString(), ...basic]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/password authentication failed/);
    expect(r.stderr + r.stdout).not.toMatch(/Wr0ngSecret/);
    const env = { PGHOST: u.hostname, PGPORT: u.port, PGUSER: 'postgres', PGPASSWORD: 'Wr0ngSecret!', PGDATABASE: db.name };
    const r2 = await runCli(['migrate', ...basic], { env });
    expect(r2.code).toBe(3);
    expect(r2.stderr + r2.stdout).not.toMatch(/Wr0ngSecret/);
    expect(r2.stderr).toMatch(/postgres:\/\/postgres:\*\*\*\*@127.0.0.1/);
    // libpq's ?password= parameter: used, and masked like the user-info password
    const p = new URL(db.url);
    const right = decodeURIComponent(p.password);
    p.password = '';
    p.searchParams.set('password', 'Wr0ngSecret!');
    const r3 = await runCli(['status', '--json', '-d', p.toString(), ...basic]);
    expect([r3.code, /Wr0ngSecret/.test(r3.stderr + r3.stdout)]).toEqual([3, false]);
    p.searchParams.set('password', right);
    expect((await runCli(['status', '-d', p.toString(), ...basic])).code).toBe(0);
  });

  it('a port that answers with another protocol (an HTTP proxy): exit 3, not a wait for ever', async () => {
    const http = createServer((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    const { port } = http.address() as AddressInfo;
    try {
      const target = resolveTarget(`postgres://u:pw@127.0.0.1:${port}/db`);
      const err = await openClient(target, { command: 'test', firstAnswerSec: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BoosterzError);
      expect([(err as BoosterzError).exitCode, (err as Error).message]).toEqual([
        3,
        `cannot connect to postgres://u:****@127.0.0.1:${port}/db: no PostgreSQL answer within 1 s: the port accepts connections but does not answer as a PostgreSQL server (or, behind a pooler, no server connection came free)`,
      ]);
    } finally {
      http.close();
    }
  });

  it('unknown flag or bad value: exit 2 with one line', async () => {
    const r = await runCli(['migrate', '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/unknown option '--frobnicate'/);
    const r2 = await runCli(['migrate', '--to', 'abc']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/--to must be an integer/);
    expect((await runCli(['nonsense'])).code).toBe(2);
    // ranges are checked when the flags are read, before any database is created or served
    for (const [args, msg] of [
      [['bench', '--scale', '0'], /--scale must be a number above 0 and at most 100/],
      [['demo', '--scale', '101'], /--scale must be a number above 0 and at most 100/],
      [['daemon', '--metrics-port', '70000'], /--metrics-port must be an integer ≥ 1 and ≤ 65535/],
      [['migrate', '--parallel', '99999999999999999999'], /--parallel must be an integer ≥ 1 and ≤ 64/],
    ] as const) {
      const bad = await runCli([...args]);
      expect({ args, code: bad.code, first: bad.stderr.split('\n')[0] }).toEqual({ args, code: 2, first: expect.stringMatching(msg) });
    }
    // help shown because a subcommand is missing is a usage error; asked for, it is not
    expect([(await runCli(['report'])).code, (await runCli(['report', '--help'])).code]).toEqual([2, 0]);
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/migrate[\s\S]*status[\s\S]*rollback[\s\S]*baseline/);
  });
});

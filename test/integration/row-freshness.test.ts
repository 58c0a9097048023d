import { join } from 'node:path';
import postgres from 'postgres';
import { migrate } from '../../src/core/migrate.js';
import type { Sql } from '../../src/db/connection.js';
import { runCli } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { lockWaiters, waitFor } from '../helpers/sessions.js';
import { readFileSync } from 'node:fs';

// 0008: a write marks stale only the rows it can change; readers use the view for the other
// rows and compute live for the marked ones, and always answer what the plain query answers.

const dirs = { migrationsDir: join(process.cwd(), 'migrations'), rollbackDir: join(process.cwd(), 'rollback'), emit: () => undefined };
const PLAIN_STATS = readFileSync(join(process.cwd(), 'src/sql/workloads/user_stats.plain.sql'), 'utf8');
/** collection_completion_optimized's definition (0004) for one user: what get_collection_completion must return. */
const PLAIN_COMPLETION = `
  select o.user_id, o.collection_id, o.owned_cards, o.owned_checklist_cards, coalesce(s.n, 0) as checklist_cards,
         round(case when coalesce(s.n, 0) = 0 then 0 else 100.0 * o.owned_checklist_cards / s.n end, 2) as completion_pct,
         coalesce(s.n > 0 and o.owned_checklist_cards = s.n, false) as is_complete
    from (select c.user_id, c.collection_id, sum(c.quantity)::bigint as owned_cards, count(distinct cc.id) as owned_checklist_cards
            from cards c left join checklist_cards cc on cc.id = c.checklist_card_id and cc.collection_id = c.collection_id
           where c.user_id = $1 group by c.user_id, c.collection_id) o
    left join (select collection_id, count(*) as n from checklist_cards group by collection_id) s on s.collection_id = o.collection_id
   order by o.collection_id`;
const USERS = 40;

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('rowfresh');
  await migrate(db.sql, { ...dirs, lint: false });
  await db.sql.unsafe(`
    insert into users (id, username, email) select g, 'u' || g, 'u' || g || '@example.com' from generate_series(1, ${USERS}) g;
    insert into collections (id, name, brand, total_cards) select g, 'set ' || g, 'Panini', g + 1 from generate_series(1, 6) g;
    insert into checklist_cards (collection_id, card_number, player_name)
      select k, n::text, 'player ' || n from generate_series(1, 6) k, generate_series(1, k + 1) n;
    -- user u owns card n of collection k when (u + n) % k = 0: some complete sets, some partial
    insert into cards (user_id, collection_id, checklist_card_id, quantity)
      select u, cc.collection_id, cc.id, 1 + u % 3 from generate_series(1, ${USERS}) u, checklist_cards cc
       where ((u + cc.card_number::int) % cc.collection_id = 0 or u % 7 = 0) and (u + cc.collection_id) % 4 <> 0;
    insert into posts (user_id, content) select 1 + g % ${USERS}, 'post ' || g from generate_series(1, 100) g;
    insert into follows (follower_id, followed_id) select a, b from generate_series(1, ${USERS}) a, generate_series(1, ${USERS}) b
      where a <> b and (a * b) % 11 = 0;`);
  await db.sql`select * from refresh_materialized_views(true)`;
});
afterAll(async () => {
  await db?.drop();
});

const marks = () =>
  db.sql<{ view: string; user_id: string | null; collection_id: string | null }[]>`
    select view_name as view, user_id::text, collection_id::text from materialized_view_stale_marks
     order by view_name, user_id nulls first, collection_id nulls first`;
const refresh = () => db.sql`select * from refresh_materialized_views()`;

/** Scans of a relation and its indexes not yet flushed to the statistics: compare before and after, in one transaction. */
const scans = async (tx: Sql, rel: string) =>
  Number(
    (
      await tx<{ n: string }[]>`
        select (pg_stat_get_xact_numscans(${rel}::regclass)
                + coalesce((select sum(pg_stat_get_xact_numscans(i.indexrelid)) from pg_index i where i.indrelid = ${rel}::regclass), 0))::text as n`
    )[0].n,
  );

/** The function's answer, the plain answer and how often the function scanned the view, in one snapshot. */
async function both(sql: Sql, fn: 'get_user_stats' | 'get_collection_completion', plain: string, view: string, user: number) {
  return sql.begin('isolation level repeatable read read only', async (t) => {
    const tx = t as unknown as Sql;
    const before = await scans(tx, view);
    const got = await tx`select * from ${tx(fn)}(${user})`;
    const viewScans = (await scans(tx, view)) - before;
    const expected = await tx.unsafe(plain, [user]);
    return { fn: [...got], plain: [...expected], viewScans };
  });
}
const statsBoth = (sql: Sql, user: number) => both(sql, 'get_user_stats', PLAIN_STATS, 'user_stats_optimized', user);
const completionBoth = (sql: Sql, user: number) =>
  both(sql, 'get_collection_completion', PLAIN_COMPLETION, 'collection_completion_optimized', user);

describe('row freshness (0008)', () => {
  it('a card insert marks only its user and (user, collection); other users read the view, the writer reads live, both exact', async () => {
    expect(await marks()).toEqual([]);
    await db.sql`insert into cards (user_id, collection_id, checklist_card_id) values (3, 2, (select min(id) from checklist_cards where collection_id = 2))`;
    expect(await marks()).toEqual([
      { view: 'collection_completion_optimized', user_id: '3', collection_id: '2' },
      { view: 'user_stats_optimized', user_id: '3', collection_id: null },
    ]);
    const other = await statsBoth(db.sql, 4);
    expect(other.fn).toEqual(other.plain);
    expect(other.viewScans).toBe(1);
    const writer = await statsBoth(db.sql, 3);
    expect(writer.fn).toEqual(writer.plain);
    expect(writer.viewScans).toBe(0);
    // user 3's completion: collection 2 live, the others from the view
    const c = await completionBoth(db.sql, 3);
    expect(c.fn).toEqual(c.plain);
    expect(c.fn.length).toBeGreaterThan(1);
    expect(c.viewScans).toBe(1);
    await refresh();
    expect(await marks()).toEqual([]);
  });

  it('likes, messages and card updates of unread columns mark nothing; a follow marks both users; a post its author', async () => {
    await db.sql`insert into post_likes (post_id, user_id) values ((select min(id) from posts), 5)`;
    await db.sql`update cards set notes = 'near mint', is_for_trade = true where user_id = 5`;
    await db.sql`update cards set quantity = quantity where user_id = 5`;
    expect(await marks()).toEqual([]);
    await db.sql`insert into follows (follower_id, followed_id) values (1, 2) on conflict do nothing`;
    await db.sql`insert into posts (user_id, content) values (6, 'hi')`;
    expect((await marks()).map((m) => [m.view, m.user_id, m.collection_id])).toEqual([
      ['user_stats_optimized', '1', null],
      ['user_stats_optimized', '2', null],
      ['user_stats_optimized', '6', null],
    ]);
    await refresh();
  });

  it('a checklist change marks its collection: every user with cards there reads live, the others the view', async () => {
    const [cc] = await db.sql<
      { id: string }[]
    >`insert into checklist_cards (collection_id, card_number, player_name) values (3, '99', 'new') returning id::text`;
    expect((await marks()).map((m) => [m.view, m.user_id, m.collection_id])).toEqual([
      ['collection_completion_optimized', null, '3'],
      ['user_stats_optimized', null, '3'],
    ]);
    const [inside] = await db.sql<{ u: number }[]>`select min(user_id)::int as u from cards where collection_id = 3`;
    const [outside] = await db.sql<
      { u: number }[]
    >`select min(id)::int as u from users u where not exists (select 1 from cards c where c.user_id = u.id and c.collection_id = 3)`;
    const a = await statsBoth(db.sql, inside.u);
    expect([a.fn, a.viewScans]).toEqual([a.plain, 0]);
    const b = await statsBoth(db.sql, outside.u);
    expect([b.fn, b.viewScans]).toEqual([b.plain, 1]);
    const c = await completionBoth(db.sql, inside.u);
    expect(c.fn).toEqual(c.plain);
    await db.sql`delete from checklist_cards where id = ${cc.id}`;
    await refresh();
    expect(await marks()).toEqual([]);
  });

  it('a rolled-back savepoint takes its marks with it; the same row written again is marked again', async () => {
    await db.sql.begin(async (tx) => {
      await tx
        .savepoint(async (sp) => {
          await sp`insert into posts (user_id, content) values (7, 'draft')`;
          throw Object.assign(new Error('undo'), { undo: true });
        })
        .catch((e: { undo?: boolean }) => {
          if (!e.undo) throw e;
        });
      await tx`insert into posts (user_id, content) values (7, 'final')`;
    });
    expect((await marks()).map((m) => m.user_id)).toEqual(['7']);
    // many rows of one user in one transaction: one mark
    await db.sql`insert into posts (user_id, content) select 8, 'p' || g from generate_series(1, 50) g`;
    expect((await marks()).map((m) => m.user_id)).toEqual(['7', '8']);
    await refresh();
  });

  it('TRUNCATE marks the whole view', async () => {
    await db.sql
      .begin(async (tx) => {
        await tx`create temp table keep on commit drop as select * from post_likes`;
        await tx`truncate post_likes, posts cascade`;
        expect(
          (await tx`select view_name, user_id, collection_id from materialized_view_stale_marks`).map((m) => [m.view_name, m.user_id]),
        ).toEqual([['user_stats_optimized', null]]);
        const fn = await tx`select * from get_user_stats(1)`;
        expect(fn).toEqual(await tx.unsafe(PLAIN_STATS, [1]));
        throw Object.assign(new Error('undo'), { undo: true });
      })
      .catch((e: { undo?: boolean }) => {
        if (!e.undo) throw e;
      });
    expect(await marks()).toEqual([]);
  });

  it('a writer that relied on a pending mark is in the refresh that clears it: the refresh waits for it', async () => {
    await db.sql`insert into posts (user_id, content) values (9, 'first')`; // marks user 9
    const writer = await db.sql.reserve();
    try {
      await writer`begin`;
      await writer`insert into posts (user_id, content) values (9, 'in flight')`;
      // user 9 has a live mark: the writer adds none
      expect((await writer`select count(*)::int as n from materialized_view_stale_marks where user_id = 9`)[0].n).toBe(1);
      const refreshing = refresh().then(() => undefined); // (a postgres.js query starts when awaited)
      await waitFor(
        'the refresh to wait for the writer',
        async () =>
          (
            await db.sql`select 1 from pg_stat_activity where datname = current_database() and wait_event = 'PgSleep'
                        and query like '%refresh_materialized_views%'`
          ).length > 0,
      );
      await writer`commit`;
      await refreshing;
    } finally {
      await writer`rollback`.catch(() => undefined);
      writer.release();
    }
    expect(await marks()).toEqual([]);
    const [{ view, live }] = await db.sql<{ view: string; live: string }[]>`
      select (select posts_count::text from user_stats_optimized where user_id = 9) as view,
             (select count(*)::text from posts where user_id = 9) as live`;
    expect(view).toBe(live); // without the wait the view would lack 'in flight', with no mark left to say so
    const s = await statsBoth(db.sql, 9);
    expect([s.fn, s.viewScans]).toEqual([s.plain, 1]);
  });

  it('refresh-views: a mark committed while the refresh runs stays; the marks before it are cleared', async () => {
    await db.sql`insert into posts (user_id, content) values (10, 'before')`;
    const blocker = await db.sql.reserve();
    await blocker`begin`;
    await blocker`lock table follows in access exclusive mode`; // user_stats_optimized reads follows: its refresh waits here
    try {
      const cli = runCli(['-d', db.url, 'refresh-views', '--json', '--lock-timeout', '60s']);
      // it waits for the blocker (a transaction still running) or on follows
      await waitFor(
        'the refresh to wait',
        async () =>
          (await lockWaiters(db.sql)).some((w) => w.app === 'boosterz-db/refresh-views') ||
          (await db.sql`select 1 from pg_stat_activity where application_name = 'boosterz-db/refresh-views' and wait_event = 'PgSleep'`)
            .length > 0,
      );
      await db.sql`insert into posts (user_id, content) values (11, 'during')`;
      await blocker`rollback`;
      const r = await cli;
      expect({ code: r.code, err: r.stderr.match(/error.*/)?.[0] }).toEqual({ code: 0, err: undefined });
    } finally {
      await blocker`rollback`.catch(() => undefined);
      blocker.release();
    }
    expect((await marks()).map((m) => [m.view, m.user_id])).toEqual([['user_stats_optimized', '11']]);
    const [{ n }] = await db.sql<{ n: string }[]>`select posts_count::text as n from user_stats_optimized where user_id = 10`;
    expect(n).toBe((await db.sql<{ n: string }[]>`select count(*)::text as n from posts where user_id = 10`)[0].n);
    await refresh();
  });

  it('NOTIFY once per fresh-to-stale transition of a view, not once per write', async () => {
    const got: string[] = [];
    const listener = postgres(db.url, { max: 1, onnotice: () => undefined });
    try {
      await listener.listen('boosterz_views_stale', (p) => void got.push(p));
      const sync = async (tag: string) => {
        await db.sql`select pg_notify('boosterz_views_stale', ${tag})`;
        await waitFor(`notification ${tag}`, () => got.includes(tag));
      };
      await sync('start');
      for (const u of [12, 13, 14, 12]) await db.sql`insert into posts (user_id, content) values (${u}, 'x')`;
      await db.sql`insert into cards (user_id, collection_id) values (12, 1), (13, 1)`;
      await db.sql`insert into cards (user_id, collection_id) values (14, 1)`;
      await sync('after writes');
      await refresh();
      await db.sql`insert into posts (user_id, content) values (15, 'x')`;
      await db.sql`insert into posts (user_id, content) values (16, 'x')`;
      await sync('end');
    } finally {
      await listener.end({ timeout: 2 });
    }
    expect(got).toEqual([
      'start',
      'user_stats_optimized',
      'collection_completion_optimized',
      'after writes',
      'user_stats_optimized',
      'end',
    ]);
    await refresh();
  });
});

describe('row freshness under concurrent writers (READ COMMITTED and REPEATABLE READ), readers and refreshes', () => {
  const WRITERS = 4;
  // 23001: a checklist card deleted while another writer's card came to reference it (ON DELETE RESTRICT)
  const ignorable = new Set(['40001', '40P01', '23505', '23503', '23001']);

  /** A deterministic pseudo-random sequence per writer. */
  const rng = (seed: number) => () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;

  async function writeOnce(tx: Sql, r: () => number): Promise<void> {
    const u = 1 + Math.floor(r() * USERS);
    const k = 1 + Math.floor(r() * 6);
    switch (Math.floor(r() * 8)) {
      case 0:
      case 1:
        await tx`insert into cards (user_id, collection_id, checklist_card_id, quantity)
                 select ${u}, ${k}, id, 1 from checklist_cards where collection_id = ${k} order by id offset ${Math.floor(r() * 3)} limit 1`;
        break;
      case 2:
        await tx`update cards set quantity = quantity + 1 where id = (select min(id) from cards where user_id = ${u})`;
        break;
      case 3:
        await tx`update cards set collection_id = ${k} where id = (select max(id) from cards where user_id = ${u})`;
        break;
      case 4:
        await tx`delete from cards where id = (select max(id) from cards where user_id = ${u} and collection_id = ${k})`;
        break;
      case 5:
        await tx`insert into posts (user_id, content) values (${u}, 'w')`;
        await tx`insert into post_likes (post_id, user_id) select max(id), ${u} from posts on conflict do nothing`;
        break;
      case 6:
        if (r() < 0.5)
          await tx`insert into follows (follower_id, followed_id) values (${u}, ${1 + ((u + k) % USERS)}) on conflict do nothing`;
        else await tx`delete from follows where follower_id = ${u} and followed_id = ${1 + ((u + k) % USERS)}`;
        break;
      default:
        // a checklist card nobody owns yet comes and goes (cards reference checklist cards ON DELETE RESTRICT)
        if (r() < 0.4) await tx`insert into checklist_cards (collection_id, card_number, player_name) values (${k}, 'x', 'extra')`;
        else
          await tx`delete from checklist_cards x where x.id = (select max(id) from checklist_cards where player_name = 'extra' and collection_id = ${k})
                     and not exists (select 1 from cards c where c.checklist_card_id = x.id)`;
    }
  }

  it('every answer equals the plain query in the same snapshot, for the users written and the others', async () => {
    const clients = Array.from({ length: WRITERS + 2 }, () => postgres(db.url, { max: 1, onnotice: () => undefined, prepare: false }));
    const [reader, refresher, ...writers] = clients;
    let stop = false;
    const counts = { writes: 0, refreshes: 0, reads: 0, rr: 0 };
    const mismatches: unknown[] = [];
    const loops = [
      ...writers.map(async (w, i) => {
        const r = rng(i + 1);
        const level = i % 2 === 0 ? 'read committed' : 'repeatable read';
        while (!stop) {
          try {
            await w.begin(`isolation level ${level}`, async (tx) => {
              for (let n = 1 + Math.floor(r() * 3); n > 0; n--) await writeOnce(tx as unknown as Sql, r);
            });
            counts.writes++;
            if (level === 'repeatable read') counts.rr++;
          } catch (err) {
            if (!ignorable.has((err as { code?: string }).code ?? '')) throw err;
          }
        }
      }),
      (async () => {
        while (!stop) {
          await refresher`select * from refresh_materialized_views()`;
          counts.refreshes++;
        }
      })(),
      (async () => {
        const r = rng(99);
        while (!stop) {
          const u = 1 + Math.floor(r() * USERS);
          const s = await statsBoth(reader, u);
          if (JSON.stringify(s.fn) !== JSON.stringify(s.plain)) mismatches.push({ user: u, fn: s.fn, plain: s.plain });
          const c = await completionBoth(reader, u);
          if (JSON.stringify(c.fn) !== JSON.stringify(c.plain)) mismatches.push({ user: u, fn: c.fn, plain: c.plain });
          counts.reads++;
        }
      })(),
    ];
    try {
      await waitFor(
        'enough concurrent writes, refreshes and reads',
        () => counts.writes >= 400 && counts.rr >= 100 && counts.refreshes >= 10 && counts.reads >= 150,
        240_000,
      );
    } finally {
      stop = true;
      await Promise.all(loops);
      await Promise.all(clients.map((c) => c.end({ timeout: 5 })));
    }
    expect(mismatches).toEqual([]);
    // afterwards: every user, both functions, and the view exact once refreshed
    for (let u = 1; u <= USERS; u++) {
      const s = await statsBoth(db.sql, u);
      expect({ u, fn: s.fn }).toEqual({ u, fn: s.plain });
      const c = await completionBoth(db.sql, u);
      expect({ u, fn: c.fn }).toEqual({ u, fn: c.plain });
    }
    await refresh();
    expect(await marks()).toEqual([]);
    for (let u = 1; u <= USERS; u++) {
      const s = await statsBoth(db.sql, u);
      expect({ u, fn: s.fn, viewScans: s.viewScans }).toEqual({ u, fn: s.plain, viewScans: 1 });
    }
  }, 300_000);
});

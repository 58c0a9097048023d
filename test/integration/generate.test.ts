import { join } from 'node:path';
import { generate, GENERATED_TABLES, type GenerateResult, type GenerateStep } from '../../src/core/bench/generate.js';
import { migrate } from '../../src/core/migrate.js';
import type { Sql } from '../../src/db/connection.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

const sqlDir = join(process.cwd(), 'src/sql');
const dirs = {
  migrationsDir: join(process.cwd(), 'migrations'),
  rollbackDir: join(process.cwd(), 'rollback'),
  emit: () => undefined,
  lint: false,
};
const SCALE = 0.005;
const ORPHANS = 0.05;

async function baselineDatabase(): Promise<TestDatabase> {
  const db = await freshDatabase('gen');
  await migrate(db.sql, { ...dirs, to: 1 });
  return db;
}

/** md5 of a whole table in key order: equal checksums, equal data. */
async function checksum(sql: Sql, table: string, key: string): Promise<string> {
  const [r] = await sql.unsafe(`select md5(string_agg(t::text, ',' order by ${key})) as sum from ${table} t`);
  return r.sum as string;
}

const CHECKED: [string, string][] = [
  ['users', 'id'],
  ['checklist_cards', 'id'],
  ['cards', 'id'],
  ['post_likes', 'post_id, user_id'],
  ['conversation_participants', 'conversation_id, user_id'],
  ['messages', 'id'],
  ['notifications', 'id'],
];

describe('generate', () => {
  let a: TestDatabase;
  let result: GenerateResult;
  const steps: GenerateStep[] = [];
  const rows = (table: string) => result.tables.find((t) => t.table === table)!.rows;

  beforeAll(async () => {
    a = await baselineDatabase();
    result = await generate(a.sql, { scale: SCALE, seed: 7, orphans: ORPHANS, sqlDir, onStep: (s) => steps.push(s) });
  });
  afterAll(async () => {
    await a?.drop();
  });

  it('fills every table and reports rows per table', async () => {
    expect(result.tables.map((t) => t.table)).toEqual([...GENERATED_TABLES]);
    for (const t of result.tables) expect(t.rows).toBeGreaterThan(0);
    const [r] = await a.sql`select count(*)::int as n from cards`;
    expect(rows('cards')).toBe(r.n);
    expect(result.totalRows).toBe(result.tables.reduce((n, t) => n + t.rows, 0));
  });

  it('reports every step in file order, with the rows it inserted', () => {
    expect(steps.map((s) => s.index)).toEqual(steps.map((_, i) => i));
    expect(steps.every((s) => s.total === steps.length && s.ms >= 0)).toBe(true);
    expect(steps[0].table).toBe('helpers');
    expect(steps.at(-1)!.table).toBe('analyze');
    expect(steps.find((s) => s.table === 'users')!.rows).toBe(rows('users'));
    const cardSteps = steps.filter((s) => s.table === 'cards' || s.table === 'completed_sets');
    expect(cardSteps.reduce((n, s) => n + s.rows, 0)).toBe(rows('cards'));
  });

  it('keeps the proportions of scale 1 (20k users, 2M cards, 400k posts...)', () => {
    const about = (table: string, atScale1: number, tolerance = 0.15) => {
      const expected = atScale1 * SCALE;
      expect({ table, rows: rows(table) }).toEqual({ table, rows: expect.any(Number) });
      expect(Math.abs(rows(table) - expected) / expected).toBeLessThanOrEqual(tolerance);
    };
    about('users', 20_000, 0);
    about('checklist_cards', 100_000, 0.02);
    about('cards', 2_000_000);
    about('personal_cards', 100_000, 0);
    about('posts', 400_000, 0);
    about('post_likes', 2_000_000);
    about('follows', 400_000, 0.25);
    about('conversations', 100_000, 0);
    about('messages', 2_000_000);
    about('notifications', 1_000_000, 0);
  });

  it('skews activity: a few power users, many small ones', async () => {
    const [r] = await a.sql`
      with per_user as (select user_id, count(*) as n from cards group by user_id)
      select max(n)::int as top, percentile_disc(0.5) within group (order by n)::int as median from per_user`;
    expect(r.top).toBeGreaterThan(20 * r.median);
    const [f] = await a.sql`
      with per_user as (select followed_id, count(*) as n from follows group by followed_id)
      select max(n)::int as top, percentile_disc(0.5) within group (order by n)::int as median from per_user`;
    expect(f.top).toBeGreaterThan(5 * f.median); // with 100 users, the top one is followed by nearly all
    const [c] =
      await a.sql`select min(total_cards)::int as smallest, max(total_cards)::int as biggest from collections where total_cards > 0`;
    expect(c.biggest).toBeGreaterThan(3 * c.smallest);
  });

  it('makes variants point at base cards, and some users complete a collection', async () => {
    const [v] = await a.sql`
      select count(*)::int as variants,
             count(*) filter (where b.id is not null and b.collection_id = v.collection_id and b.base_card_id is null
                               and b.card_number = v.card_number and b.player_name = v.player_name)::int as on_their_base
        from checklist_cards v left join checklist_cards b on b.id = v.base_card_id
       where v.base_card_id is not null`;
    expect(v.variants).toBeGreaterThan(0);
    const [o] = await a.sql`select count(*)::int as n from checklist_cards where base_card_id > (select max(id) from checklist_cards)`;
    expect(v.on_their_base).toBe(v.variants - o.n);
    const [done] = await a.sql`
      select count(*)::int as n from (
        select c.user_id, c.collection_id
          from cards c join checklist_cards cc on cc.id = c.checklist_card_id and cc.collection_id = c.collection_id
         group by 1, 2
        having count(distinct cc.id) = (select count(*) from checklist_cards x where x.collection_id = c.collection_id)) s`;
    expect(done.n).toBeGreaterThan(0);
  });

  it('points the requested fraction of checklist references at checklist cards that do not exist', async () => {
    const [r] = await a.sql`
      with refs as (
        select checklist_card_id as ref from cards where checklist_card_id is not null
        union all select checklist_card_id from personal_cards where checklist_card_id is not null
        union all select base_card_id from checklist_cards where base_card_id is not null)
      select count(*)::int as refs,
             count(*) filter (where not exists (select 1 from checklist_cards cc where cc.id = refs.ref))::int as orphans,
             count(*) filter (where refs.ref > (select max(id) from checklist_cards))::int as above_max
        from refs`;
    expect(r.orphans).toBe(r.above_max);
    expect(r.orphans / r.refs).toBeGreaterThan(ORPHANS * 0.7);
    expect(r.orphans / r.refs).toBeLessThan(ORPHANS * 1.3);
  });

  it('keeps the data consistent: owned cards in their collection, senders take part, likes after posts', async () => {
    const [r] = await a.sql`
      select (select count(*) from cards c join checklist_cards cc on cc.id = c.checklist_card_id
               where cc.collection_id <> c.collection_id)::int as misfiled,
             (select count(*) from messages m where not exists (
                select 1 from conversation_participants p where p.conversation_id = m.conversation_id and p.user_id = m.sender_id))::int as strangers,
             (select count(*) from conversations c where (select count(*) from conversation_participants p where p.conversation_id = c.id) < 2)::int as lonely,
             (select count(*) from post_likes l join posts p on p.id = l.post_id where l.created_at < p.created_at)::int as early_likes,
             (select count(*) from messages m join conversations c on c.id = m.conversation_id where m.created_at < c.created_at)::int as early_messages,
             (select max(created_at) from messages) <= '2026-06-01 00:00:00+00' as before_reference`;
    expect(r).toEqual({ misfiled: 0, strangers: 0, lonely: 0, early_likes: 0, early_messages: 0, before_reference: true });
  });

  it('moves the identity sequences past the generated ids', async () => {
    const [u] = await a.sql`insert into users (username, email) values ('late', 'late@example.test') returning id`;
    expect(Number(u.id)).toBe(rows('users') + 1);
    await a.sql`delete from users where id = ${u.id}`;
  });

  it('generates the same data for the same seed, other data for another seed', async () => {
    const same = await baselineDatabase();
    const other = await baselineDatabase();
    try {
      await generate(same.sql, { scale: SCALE, seed: 7, orphans: ORPHANS, sqlDir });
      await generate(other.sql, { scale: SCALE, seed: 8, orphans: ORPHANS, sqlDir });
      for (const [table, key] of CHECKED) {
        const sum = await checksum(a.sql, table, key);
        expect({ table, sum: await checksum(same.sql, table, key) }).toEqual({ table, sum });
        expect({ table, differs: (await checksum(other.sql, table, key)) !== sum }).toEqual({ table, differs: true });
      }
    } finally {
      await same.drop();
      await other.drop();
    }
  });

  it('refuses tables that already have rows', async () => {
    await expect(generate(a.sql, { scale: SCALE, sqlDir })).rejects.toMatchObject({
      exitCode: 6,
      message: expect.stringMatching(/already have rows/),
    });
  });

  it('refuses a database without the baseline schema, and bad options', async () => {
    const empty = await freshDatabase('gen');
    try {
      await expect(generate(empty.sql, { scale: SCALE, sqlDir })).rejects.toMatchObject({
        exitCode: 2,
        message: expect.stringMatching(/missing/),
      });
      await expect(generate(empty.sql, { scale: 0, sqlDir })).rejects.toMatchObject({ exitCode: 2 });
      await expect(generate(empty.sql, { scale: 101, sqlDir })).rejects.toMatchObject({ exitCode: 2 });
      await expect(generate(empty.sql, { scale: 1, seed: 1.5, sqlDir })).rejects.toMatchObject({ exitCode: 2 });
      await expect(generate(empty.sql, { scale: 1, orphans: 1, sqlDir })).rejects.toMatchObject({ exitCode: 2 });
    } finally {
      await empty.drop();
    }
  });

  it('keeps nothing when interrupted (one transaction)', async () => {
    const db = await baselineDatabase();
    try {
      const ac = new AbortController();
      const run = generate(db.sql, { scale: SCALE, sqlDir, signal: ac.signal, onStart: (s) => s.table === 'posts' && ac.abort() });
      await expect(run).rejects.toMatchObject({ exitCode: 130, message: expect.stringMatching(/interrupted while generating posts/) });
      const [r] = await db.sql`select (select count(*) from users)::int as users, (select count(*) from cards)::int as cards`;
      expect(r).toEqual({ users: 0, cards: 0 });
    } finally {
      await db.drop();
    }
  });
});

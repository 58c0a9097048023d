import { join } from 'node:path';
import postgres from 'postgres';
import { migrate } from '../../src/core/migrate.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

// 0009: the freshness triggers' probes are index probes on all three columns of
// materialized_view_stale_marks_row_idx whatever the statistics say. The hard case is the
// table as a refresh leaves it: empty (reltuples 0 after VACUUM ANALYZE) with bloated indexes,
// where a generic plan may find any index scan as cheap as another, or a sequential scan cheaper.

const dirs = { migrationsDir: join(process.cwd(), 'migrations'), rollbackDir: join(process.cwd(), 'rollback'), emit: () => undefined };

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('trgplans');
  await migrate(db.sql, { ...dirs, lint: false });
  await db.sql.unsafe(`
    insert into users (id, username, email) select g, 'u' || g, 'u' || g || '@example.com' from generate_series(1, 30) g;
    insert into collections (id, name, brand, total_cards) values (1, 'set 1', 'Panini', 3);
    insert into checklist_cards (collection_id, card_number, player_name) select 1, n::text, 'p' || n from generate_series(1, 3) n;
    insert into posts (user_id, content) values (1, 'p');`);
  await db.sql`select * from refresh_materialized_views(true)`;
  // 40k marks of users nobody writes, deleted as a refresh deletes them, then vacuumed and analyzed
  await db.sql`insert into materialized_view_stale_marks (view_name, user_id, collection_id)
               select v, 1000 + g, case when v = 'user_stats_optimized' then null else g % 50 end
                 from generate_series(1, 20000) g, unnest(array['user_stats_optimized', 'collection_completion_optimized']) v`;
  await db.sql`delete from materialized_view_stale_marks`;
  await db.sql`vacuum analyze materialized_view_stale_marks`;
});
afterAll(async () => {
  await db?.drop();
});

/** The plans of every statement a write runs, its triggers' included (auto_explain, nested statements). */
async function plansOf(statements: string[]): Promise<string[]> {
  const plans: string[] = [];
  const c = postgres(db.url, { max: 1, onnotice: (n) => plans.push(n.message), prepare: false });
  try {
    await c.unsafe(`load 'auto_explain'`);
    await c.unsafe(`set auto_explain.log_min_duration = 0; set auto_explain.log_nested_statements = on;
                    set auto_explain.log_level = notice; set client_min_messages = notice`);
    // more than 5 calls: past the custom plans a plan cache tries first
    for (let i = 0; i < 7; i++) for (const s of statements) await c.unsafe(s);
  } finally {
    await c.end();
  }
  return plans.filter((p) => p.includes('materialized_view_stale_marks'));
}

/** Each scan of the marks in a plan: its node line with the Index Cond below it. */
const scansOf = (plan: string) =>
  plan
    .split(/\n(?=\s*(?:->\s*)?(?:Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan|Bitmap Index Scan)\b)/)
    .filter((s) => /^\s*(?:->\s*)?(Seq|Index|Index Only|Bitmap Heap|Bitmap Index) Scan.*materialized_view_stale_marks/.test(s))
    .map((s) => s.split('\n').slice(0, 2).join(' ').replace(/\s+/g, ' '));

it.each([
  [
    'a card insert, a quantity update and a delete',
    [
      `insert into cards (user_id, collection_id, checklist_card_id) select 2, 1, min(id) from checklist_cards`,
      `update cards set quantity = quantity + 1 where user_id = 2`,
      `delete from cards where user_id = 2`,
    ],
  ],
  ['a post', [`insert into posts (user_id, content) values (3, 'x')`]],
  [
    'a follow and an unfollow',
    [`insert into follows (follower_id, followed_id) values (4, 5)`, `delete from follows where follower_id = 4`],
  ],
])(
  '%s: every probe of the marks is an index probe on (view_name, user_id, collection_id), never a scan of a whole view',
  async (_w, statements) => {
    const plans = await plansOf(statements);
    expect(plans.length).toBeGreaterThan(0);
    const scans = plans.flatMap(scansOf);
    expect(scans.length).toBeGreaterThan(0);
    for (const s of scans) {
      expect(s).not.toMatch(/Seq Scan|Bitmap/);
      // the newest-first NOTIFY check: the primary key read backwards; every other scan: the row index, on all three columns
      if (/_pkey/.test(s)) expect(s).toMatch(/Index Scan Backward using materialized_view_stale_marks_pkey/);
      else
        expect(s).toMatch(
          /materialized_view_stale_marks_row_idx .*Index Cond: \(\(view_name = .*\) AND \(user_id (=|IS NULL).*\) AND \(collection_id (=|IS NULL)/,
        );
    }
  },
);

import { runCli } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let empty: TestDatabase;
beforeAll(async () => {
  [db, empty] = await Promise.all([freshDatabase('verify'), freshDatabase('verify_empty')]);
  expect((await runCli(['-d', db.url, 'migrate'])).code).toBe(0);
  await db.sql`insert into users (id, username, email) values (1, 'ana', 'ana@example.com'), (2, 'bob', 'bob@example.com')`;
  await db.sql`insert into collections (id, name, brand, total_cards) values (1, 'Ligue 1 2024', 'Panini', 1)`;
  await db.sql`insert into checklist_cards (id, collection_id, card_number, player_name) values (1, 1, '1', 'Mbappé')`;
  await db.sql`insert into cards (user_id, collection_id, checklist_card_id) values (1, 1, 1)`;
  await db.sql`insert into follows (follower_id, followed_id) values (2, 1)`;
  // explicit ids: move the identity on, as the baseline's README says (the batch_update_ownership probe inserts a user)
  await db.sql`select setval(pg_get_serial_sequence('users', 'id'), 100)`;
});
afterAll(async () => {
  await Promise.all([db.drop(), empty.drop()]);
});

interface Check {
  name: string;
  ok: boolean;
  detail?: string;
}
const verifyJson = async (url: string) => {
  const r = await runCli(['-d', url, 'verify', '--json']);
  return { code: r.code, doc: JSON.parse(r.stdout) as { ok: boolean; database: string; checks: Check[] } };
};
const CHECKS = [
  'migrations applied without error',
  'foreign key checklist_cards.base_card_id → checklist_cards(id) present and validated',
  'foreign key cards.checklist_card_id → checklist_cards(id) present and validated',
  'foreign key personal_cards.checklist_card_id → checklist_cards(id) present and validated',
  'every index of the migrations present, valid and as the migration defines it',
  'at least 50 indexes added by the migrations',
  'materialized view user_stats_optimized populated',
  'materialized view collection_completion_optimized populated',
  'freshness triggers present',
  'stored functions and monitoring views present',
  ...[
    'get_collection_with_ownership',
    'get_social_feed',
    'get_user_stats',
    'get_user_conversations',
    'get_collection_completion',
    'batch_update_ownership',
    'refresh_materialized_views',
    'cleanup_old_data',
    'slow_queries_monitor',
    'unused_indexes',
  ].map((f) => `${f} answers`),
];

describe('verify', () => {
  it('on a migrated database: every point of the checklist ✓, exit 0, and the probes leave no trace', async () => {
    const r = await runCli(['-d', db.url, 'verify']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, -1).map((l) => l.replace(/ — .*$/, ''))).toEqual(CHECKS.map((c) => `✓ ${c}`));
    expect(lines).toContain('✓ migrations applied without error — 9/9');
    expect(lines).toContain('✓ every index of the migrations present, valid and as the migration defines it — 60/60 valid');
    expect(lines.at(-1)).toBe(`all ${CHECKS.length} checks passed`);
    const { doc } = await verifyJson(db.url);
    expect(doc.ok).toBe(true);
    expect(doc.database).toMatch(/^postgres:\/\/[^:]+:\*\*\*\*@/); // password masked
    expect(doc.database).not.toContain(decodeURIComponent(new URL(db.url).password));
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from users where username = 'boosterz-verify-probe'`;
    expect(n).toBe(0);
  });

  it("an INVALID index that is not the migrations' does not fail the checklist", async () => {
    await db.sql`create table bz_extra (a int)`;
    await db.sql`insert into bz_extra values (1), (1)`;
    await expect(db.sql`create unique index concurrently bz_extra_a_key on bz_extra (a)`).rejects.toMatchObject({ code: '23505' });
    const { code, doc } = await verifyJson(db.url);
    expect(code).toBe(0);
    expect(doc.checks.every((c) => c.ok)).toBe(true);
  });

  it('names each broken point with ✗ and exits 1', async () => {
    // a migration recorded as failed
    await db.sql`update boosterz_db.schema_history set state = 'failed' where version = 7`;
    // an FK left NOT VALID, another one missing
    await db.sql`alter table cards drop constraint cards_checklist_card_id_fkey`;
    await db.sql`alter table cards add constraint cards_checklist_card_id_fkey foreign key (checklist_card_id) references checklist_cards (id) on delete restrict not valid`;
    await db.sql`alter table personal_cards drop constraint personal_cards_checklist_card_id_fkey`;
    // an index of the migrations missing, another left INVALID by a failed CONCURRENTLY build
    await db.sql`drop index collections_created_at_idx`;
    await db.sql`drop index users_created_at_idx`;
    await db.sql`update users set created_at = '2024-01-01'`;
    await expect(db.sql`create unique index concurrently users_created_at_idx on users (created_at)`).rejects.toMatchObject({
      code: '23505',
    });
    // a materialized view emptied, a function and a monitoring view gone
    await db.sql`refresh materialized view collection_completion_optimized with no data`;
    await db.sql`drop function get_user_conversations(bigint, integer)`;
    await db.sql`drop view unused_indexes`;

    const r = await runCli(['-d', db.url, 'verify']);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('✗'))).toEqual([
      '✗ migrations applied without error — not applied: 7 (failed)',
      '✗ foreign key cards.checklist_card_id → checklist_cards(id) present and validated — NOT VALID: rerun `boosterz-db migrate` to validate it',
      '✗ foreign key personal_cards.checklist_card_id → checklist_cards(id) present and validated — missing',
      '✗ every index of the migrations present, valid and as the migration defines it — missing: public.collections_created_at_idx; INVALID: public.users_created_at_idx (rerun `boosterz-db migrate`, or drop and rebuild); another definition: public.users_created_at_idx is "CREATE UNIQUE INDEX users_created_at_idx ON public.users USING btree (created_at)", the migration builds "CREATE UNIQUE INDEX users_created_at_idx ON public.users USING btree (created_at DESC)"',
      '✗ materialized view collection_completion_optimized populated — not populated: run `boosterz-db refresh-views --all`',
      '✗ stored functions and monitoring views present — missing: get_user_conversations(), unused_indexes',
      expect.stringMatching(/^✗ get_user_conversations answers — \[42883\] function get_user_conversations\(.*\) does not exist$/),
      expect.stringMatching(/^✗ unused_indexes answers — \[42P01\] relation "unused_indexes" does not exist$/),
    ]);
    expect(r.stdout.trim().split('\n').at(-1)).toBe(`8 of ${CHECKS.length} checks failed`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('on an empty database: every point ✗, exit 1, no stack trace', async () => {
    const r = await runCli(['-d', empty.url, 'verify']);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, -1).map((l) => l.replace(/ — .*$/, ''))).toEqual(CHECKS.map((c) => `✗ ${c}`));
    expect(lines[0]).toMatch(/^✗ migrations applied without error — not applied: 1 \(pending\), 2 \(pending\), .*9 \(pending\)$/);
    expect(lines).toContain('✗ at least 50 indexes added by the migrations — 0 present and valid');
    expect(lines.at(-1)).toBe(`${CHECKS.length} of ${CHECKS.length} checks failed`);
    expect(r.stderr).toBe('');
  });
});

describe('doctor', () => {
  type Line = { topic: string; verdict: 'ok' | 'advice' | 'problem'; message: string };
  const doctorJson = async (url: string, extra: string[] = []) => {
    const r = await runCli(['-d', url, 'doctor', '--json', ...extra]);
    const doc = JSON.parse(r.stdout) as { ok: boolean; lines: Line[] };
    return { code: r.code, doc, line: (topic: string) => doc.lines.find((l) => l.topic === topic)! };
  };

  it("one line per topic, the guide's memory settings scaled to --server-memory, exit 0 without problems", async () => {
    const { code, doc, line } = await doctorJson(empty.url, ['--server-memory', '16GB']);
    expect(code).toBe(0);
    expect(doc.ok).toBe(true);
    expect(doc.lines.map((l) => l.topic)).toEqual([
      'server version',
      'pg_stat_statements',
      'privileges',
      'shared_buffers',
      'effective_cache_size',
      'work_mem',
      'checkpoint_completion_target',
      'log_min_duration_statement',
    ]);
    expect(line('server version')).toMatchObject({ verdict: 'ok', message: expect.stringMatching(/^PostgreSQL 1[4-8]/) });
    expect(line('privileges')).toMatchObject({ verdict: 'ok', message: expect.stringMatching(/is a superuser$/) });
    expect(line('pg_stat_statements')).toEqual({
      topic: 'pg_stat_statements',
      verdict: 'advice',
      message: 'preloaded but not installed in this database: CREATE EXTENSION pg_stat_statements',
    });
    expect(line('shared_buffers').message).toMatch(/recommended 4GB \(25% of 16GB RAM\)/);
    expect(line('effective_cache_size').message).toMatch(/recommended 12GB \(75% of 16GB RAM\)/);
    expect(line('log_min_duration_statement')).toMatchObject({
      verdict: 'advice',
      message: 'disabled, guide: 1000 ms (log statements slower than 1 s)',
    });
  });

  it('reads the values the database runs with: per-database settings move the verdicts', async () => {
    await empty.sql`create extension pg_stat_statements`;
    await empty.sql.unsafe(`alter database ${empty.name} set effective_cache_size = '12GB'`);
    await empty.sql.unsafe(`alter database ${empty.name} set work_mem = '32MB'`);
    await empty.sql.unsafe(`alter database ${empty.name} set log_min_duration_statement = 1000`);
    const a = await doctorJson(empty.url, ['--server-memory', '16GB']);
    expect(a.line('pg_stat_statements')).toMatchObject({ verdict: 'ok', message: 'preloaded and installed: slow-query reports work' });
    expect(a.line('effective_cache_size')).toMatchObject({ verdict: 'ok', message: '12GB (recommended 12GB: 75% of 16GB RAM)' });
    expect(a.line('work_mem')).toMatchObject({ verdict: 'ok', message: '32MB (guide: 32MB)' });
    expect(a.line('log_min_duration_statement')).toMatchObject({ verdict: 'ok', message: '1000 ms' });

    // too much work_mem for the RAM: every connection sorting at once would not fit
    const [{ conns }] = await empty.sql<{ conns: number }[]>`select current_setting('max_connections')::int as conns`;
    await empty.sql.unsafe(`alter database ${empty.name} set work_mem = '256MB'`);
    await empty.sql.unsafe(`alter database ${empty.name} set log_min_duration_statement = 5000`);
    const b = await doctorJson(empty.url, ['--server-memory', '8GB']);
    if (conns * 256 > 8 * 1024)
      expect(b.line('work_mem')).toMatchObject({
        verdict: 'advice',
        message: `256MB × max_connections ${conns} exceeds 8GB RAM if every connection sorts at once`,
      });
    expect(b.line('log_min_duration_statement')).toMatchObject({ verdict: 'advice', message: '5000 ms, guide: 1000 ms' });
    expect(b.line('effective_cache_size')).toMatchObject({
      verdict: 'advice',
      message: expect.stringMatching(/^12GB, recommended 6GB \(75% of 8GB RAM\)/),
    });
    expect(b.code).toBe(0);

    await empty.sql.unsafe(`alter database ${empty.name} set log_min_duration_statement = 0`);
    const c = await doctorJson(empty.url, ['--server-memory', '8GB']);
    expect(c.line('log_min_duration_statement')).toMatchObject({
      verdict: 'advice',
      message: '0 ms: every statement is logged (heavy on a busy server), guide: 1000 ms',
    });
  });

  it('text: one line each, ok / advice / problem first', async () => {
    const r = await runCli(['-d', empty.url, 'doctor', '--server-memory', '16GB']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(8);
    for (const l of lines) expect(l).toMatch(/^(ok {5}|advice |problem) [a-z_ ]+: /);
    expect(lines).toContain('ok      checkpoint_completion_target: 0.9');
  });

  it('rejects a bad --server-memory with exit 2', async () => {
    const r = await runCli(['-d', empty.url, 'doctor', '--server-memory', 'lots']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--server-memory must look like 16GB or 512MB/);
  });
});

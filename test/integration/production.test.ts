import { join } from 'node:path';
import { applyLikePsql, hasPsql } from '../../src/core/bench/costs.js';
import { diffSnapshots, formatDiff, snapshot } from '../../src/core/checks/catalog.js';
import { loadMigrations } from '../../src/core/engine/files.js';
import type { Sql } from '../../src/db/connection.js';
import { generateData } from '../helpers/data.js';
import { runCli, runCliUntil } from '../helpers/cli.js';
import { tempFixture } from '../helpers/fixtures.js';
import { addDecoys, HOSTILE, productionDatabase, type ProductionDatabase } from '../helpers/roles.js';

// A database shaped like production (see test/helpers/roles.ts): the owner migrates, the app
// role (DML only) reads and writes after every migration and after the rollback, with the
// settings a DBA may have set per database and per role.

const ROOT = process.cwd();
const SQL_DIR = join(ROOT, 'src/sql');
const DECOYS = ['users', 'cards', 'checklist_cards', 'posts', 'follows', 'materialized_view_stale_marks'];

const asOwner = (db: ProductionDatabase, args: string[], env: NodeJS.ProcessEnv = {}) => runCli(['-d', db.owner.url, ...args], { env });
const major = async (sql: Sql) =>
  Math.floor(Number((await sql<{ v: string }[]>`select current_setting('server_version_num') as v`)[0].v) / 10000);

/** Reads and writes of the app through every path the migrations change; throws on the first that fails. */
async function exercise(app: Sql, version: number): Promise<void> {
  const [u] = await app<
    { id: string }[]
  >`insert into users (username, email) values (${`u${Date.now()}${Math.random()}`}, ${`${Math.random()}@x.org`}) returning id`;
  const [col] = await app<{ id: string }[]>`select id from collections order by id limit 1`;
  const [cc] = await app<
    { id: string }[]
  >`insert into checklist_cards (collection_id, card_number, player_name) values (${col.id}, 'x', 'Test') returning id`;
  const [card] = await app<
    { id: string }[]
  >`insert into cards (user_id, collection_id, checklist_card_id) values (${u.id}, ${col.id}, ${cc.id}) returning id`;
  await app`update cards set quantity = 2 where id = ${card.id}`;
  const [post] = await app<{ id: string }[]>`insert into posts (user_id, content) values (${u.id}, 'hello') returning id`;
  const [other] = await app<{ id: string }[]>`select id from users where id <> ${u.id} order by id limit 1`;
  await app`insert into follows (follower_id, followed_id) values (${u.id}, ${other.id})`;
  await app`delete from follows where follower_id = ${u.id}`;
  await app`delete from posts where id = ${post.id}`;
  await app`delete from cards where id = ${card.id}`;
  if (version >= 6) {
    await app`select * from get_user_stats(${u.id})`;
    await app`select * from get_collection_with_ownership(${u.id}, ${col.id})`;
    await app`select * from get_social_feed(${other.id})`;
    await app`select * from get_user_conversations(${other.id})`;
    await app`select batch_update_ownership(${u.id}, ${JSON.stringify([{ checklist_card_id: Number(cc.id), quantity: 1 }])}::text::jsonb)`;
  }
  if (version >= 8) await app`select * from get_collection_completion(${u.id})`;
  if (version >= 4) await app`select count(*) from user_stats_optimized`;
  await app`delete from cards where user_id = ${u.id}`;
  await app`delete from checklist_cards where id = ${cc.id}`;
  await app`delete from users where id = ${u.id}`;
}

/** Keys of the objects in a schema of the snapshot. */
const inSchema = (snap: Map<string, string>, schema: string) =>
  [...snap.keys()].filter((k) => k.split(' ').at(-1)!.startsWith(`"${schema}".`) || k.split(' ').at(-1)!.startsWith(`${schema}.`));

describe.each(['database', 'role'] as const)('a production-shaped database, hostile settings set per %s', (on) => {
  let db: ProductionDatabase;
  let app: Sql;
  let pg: number;

  beforeAll(async () => {
    db = await productionDatabase(`prod_${on}`, async (url) => {
      const r = await runCli(['-d', url, 'migrate', '--to', '1']);
      if (r.code !== 0) throw new Error(r.stderr);
    });
    await generateData(db.sql, 0.005, 0);
    await db.grantApp();
    await addDecoys(db, DECOYS);
    pg = await major(db.sql);
    await db.setHostile(on, { ...HOSTILE, ...(pg >= 17 ? { transaction_timeout: '300ms' } : {}) });
    app = db.as(db.app);
  }, 120_000);
  afterAll(async () => {
    await db.drop();
  });

  it('pre-flight names the roles that write to the affected tables and what the run gives them', async () => {
    const r = await asOwner(db, ['migrate', '--dry-run', '--json']);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    const w = summary.writers.find((x: { role: string }) => x.role === db.app.name);
    expect(w.writes['public.cards']).toEqual(['DELETE', 'INSERT', 'UPDATE']);
    expect(w.effects).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /fire public\.mark_materialized_views_stale\(\) as the function's owner \(SECURITY DEFINER\): no new privilege needed/,
        ),

        'gets SELECT on public.user_stats_optimized (it can read every table the view is computed from)',
        'gets SELECT on public.collection_completion_optimized (it can read every table the view is computed from)',
      ]),
    );
    // each table once, however many triggers it gets (row, update, TRUNCATE)
    for (const e of w.effects as string[]) {
      const tables = /^its writes to (.*?) fire /.exec(e)?.[1].split(', ') ?? [];
      expect(tables).toEqual([...new Set(tables)]);
    }
    expect((w.effects as string[]).some((e) => /^its writes to users, .* fire public\.mark_materialized_view_rows_stale\(\)/.test(e))).toBe(
      true,
    );
  });

  it('each migration lands in public whatever the search_path; the app role reads and writes after every one, and after the rollback', async () => {
    for (let v = 2; v <= 8; v++) {
      const r = await asOwner(db, ['migrate', '--to', String(v)]);
      expect({ v, code: r.code, err: r.code ? r.stderr : '' }).toEqual({ v, code: 0, err: '' });
      await expect(exercise(app, v)).resolves.toBeUndefined();
    }
    const snap = await snapshot(db.sql, SQL_DIR);
    expect(inSchema(snap, db.owner.name).filter((k) => !DECOYS.some((d) => k.includes(`.${d}`) || k.endsWith(`.${d}`)))).toEqual([]);
    for (const k of [
      'materialized view public.user_stats_optimized',
      'table public.materialized_view_stale_marks',
      'view public.unused_indexes',
      'function public.get_user_stats(p_user_id bigint)',
    ]) {
      expect(snap.has(k)).toBe(true);
    }
    // the decoys are untouched: nothing resolved through "$user"
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from ${db.sql(db.owner.name)}.materialized_view_stale_marks`;
    expect(n).toBe(0);
    // monitoring reads its views
    const mon = db.as(db.monitor);
    await expect(mon`select * from unused_indexes limit 1`).resolves.toBeDefined();

    const doc = JSON.parse((await asOwner(db, ['doctor', '--json'])).stdout) as {
      lines: { topic: string; verdict: string; message: string }[];
    };
    expect(doc.lines.find((l) => l.topic === `privileges: role ${db.app.name}`)).toEqual({
      topic: `privileges: role ${db.app.name}`,
      verdict: 'ok',
      message: expect.stringMatching(/writes 15 table\(s\) .*; the freshness trigger runs as its owner, reads the materialized views$/),
    });
    // maintenance as the owner, under the same settings; the app's writes mark the views stale again
    const refresh = await asOwner(db, ['refresh-views', '--all']);
    expect({ code: refresh.code, err: refresh.code ? refresh.stderr : '' }).toEqual({ code: 0, err: '' });
    const cleanup = await asOwner(db, ['cleanup']);
    expect({ code: cleanup.code, err: cleanup.code ? cleanup.stderr : '' }).toEqual({ code: 0, err: '' });
    await exercise(app, 8);
    const d = await runCliUntil(
      ['-d', db.owner.url, 'daemon', '--json', '--refresh-cron', '*/1 * * * * *', '--cleanup-cron', '0 0 1 1 *'],
      /"job":"refresh"[^\n]*"event":"job:done"/,
      { timeoutMs: 60_000 },
    );
    process.kill(d.pid, 'SIGTERM');
    const dr = await d.result;
    expect({ code: dr.code, failed: dr.stdout.split('\n').filter((l) => /job:failed|"outcome":"failed"/.test(l)) }).toEqual({
      code: 0,
      failed: [],
    });
    const v = await asOwner(db, ['verify']);
    expect(v.stdout).toMatch(/✓ every index of the migrations present, valid and as the migration defines it/);
    const back = await asOwner(db, ['rollback', '--to', '1', '--yes']);
    expect(back.code).toBe(0);
    await expect(exercise(app, 1)).resolves.toBeUndefined();
  }, 180_000);
});

describe('psql -f as the owner, under its own search_path, gives the same catalog as migrate', () => {
  let viaTool: ProductionDatabase;
  let viaPsql: ProductionDatabase;
  afterAll(async () => {
    await viaTool?.drop();
    await viaPsql?.drop();
  });
  it('same catalog (decoy tables in the owner schema included), and the rollbacks in reverse give an empty one', async () => {
    viaTool = await productionDatabase('viatool');
    viaPsql = await productionDatabase('viapsql');
    expect((await asOwner(viaTool, ['migrate'])).code).toBe(0);
    const files = await loadMigrations(join(ROOT, 'migrations'), join(ROOT, 'rollback'));
    const owner = viaPsql.as(viaPsql.owner);
    await owner.unsafe(`alter role current_user set search_path = "$user", public`);
    const empty = await snapshot(viaPsql.sql, SQL_DIR);
    await applyLikePsql(viaPsql.owner.url, owner, files, await hasPsql());
    const strip = (s: Map<string, string>, who: string) =>
      new Map([...s].map(([k, v]) => [k.split(who).join('OWNER'), v.split(who).join('OWNER')]));
    const a = strip(await snapshot(viaTool.sql, SQL_DIR), viaTool.owner.name);
    const b = strip(await snapshot(viaPsql.sql, SQL_DIR), viaPsql.owner.name);
    expect(formatDiff(diffSnapshots(a, b))).toEqual([]);
    expect(inSchema(b, 'OWNER')).toEqual([]);
    const rollbacks = [...files].reverse().map((f) => ({ ...f, path: f.rollbackPath, sql: f.rollbackSql }));
    await applyLikePsql(viaPsql.owner.url, owner, rollbacks, await hasPsql());
    expect(formatDiff(diffSnapshots(empty, await snapshot(viaPsql.sql, SQL_DIR)))).toEqual([]);
  }, 120_000);
});

describe('refusals before anything is written', () => {
  let db: ProductionDatabase;
  beforeEach(async () => {
    db = await productionDatabase('refuse', async (url) => {
      const r = await runCli(['-d', url, 'migrate', '--to', '1']);
      if (r.code !== 0) throw new Error(r.stderr);
    });
  });
  afterEach(async () => {
    await db.drop();
  });

  it('a history schema the owner cannot write (created by another role): exit 6 naming the schema, its owner and the GRANT', async () => {
    await db.sql`drop schema boosterz_db cascade`;
    await db.sql`create schema boosterz_db`;
    const r = await asOwner(db, ['migrate']);
    expect(r.code).toBe(6);
    const first = r.stderr.split('\n').find((l) => l.startsWith('error:'))!;
    expect(first).toBe(
      `error: role ${db.owner.name} cannot write the migration history: schema boosterz_db (owner postgres) was created by another role`,
    );
    expect(r.stderr).toContain(`GRANT USAGE, CREATE ON SCHEMA boosterz_db TO ${db.owner.name};`);
    expect(r.stderr).not.toMatch(/unexpected/);
  });

  it('a hand-made index with a shipped name and another definition: exit 6 with both definitions, nothing built; verify says so', async () => {
    await db.sql`create index users_email_lower_idx on users (email)`;
    const r = await asOwner(db, ['migrate']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(
      /error: 1 index name\(s\) of the migrations already exist with another definition: public.users_email_lower_idx/,
    );
    expect(r.stderr).toContain('in the database: CREATE INDEX users_email_lower_idx ON public.users USING btree (email)');
    expect(r.stderr).toContain('the migration:   CREATE INDEX users_email_lower_idx ON public.users USING btree (lower(email))');
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from boosterz_db.schema_history where version > 1`;
    expect(n).toBe(0);
    const dry = await asOwner(db, ['migrate', '--dry-run']);
    expect(dry.code).toBe(6);
    // an index with the same definition (built by hand before) is adopted
    await db.sql`drop index users_email_lower_idx`;
    await db.sql`create index users_email_lower_idx on public.users (lower(email))`;
    expect((await asOwner(db, ['migrate'])).code).toBe(0);
    await db.sql`drop index users_username_lower_idx`;
    await db.sql`create index users_username_lower_idx on users (lower(username))`;
    const v = await asOwner(db, ['verify']);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(
      /✗ every index of the migrations present, valid and as the migration defines it — another definition: public.users_username_lower_idx is "CREATE INDEX users_username_lower_idx ON public.users USING btree \(lower\(username\)\)"/,
    );
  });
});

describe('server timeouts set by a DBA do not cut the tool', () => {
  let db: ProductionDatabase;
  afterAll(async () => {
    await db?.drop();
  });
  it('statement, transaction, idle-session and idle-in-transaction timeouts shorter than the run: migrate and rollback finish', async () => {
    db = await productionDatabase('timeouts');
    const pg = await major(db.sql);
    await db.setHostile('database', { ...HOSTILE, ...(pg >= 17 ? { transaction_timeout: '300ms' } : {}) });
    const slow = await tempFixture(undefined, {
      'migrations/0001_slow.sql': 'CREATE TABLE public.t (id bigint);\nSELECT pg_sleep(0.7);\nINSERT INTO public.t VALUES (1);\n',
      'rollback/0001_slow.sql': 'SELECT pg_sleep(0.7);\nDROP TABLE public.t;\n',
      'migrations/0002_slow_concurrent.sql':
        'SELECT pg_sleep(0.7);\nCREATE INDEX CONCURRENTLY t_id_idx ON public.t (id);\nSELECT pg_sleep(0.7);\n',
      'rollback/0002_slow_concurrent.sql': 'DROP INDEX CONCURRENTLY IF EXISTS public.t_id_idx;\n',
    });
    const dirs = ['--migrations-dir', slow.migrations, '--rollback-dir', slow.rollback];
    const r = await asOwner(db, ['migrate', ...dirs]);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    const s = await asOwner(db, ['status', ...dirs]);
    expect(s.code).toBe(0);
    const b = await asOwner(db, ['rollback', '--to', '0', '--yes', ...dirs]);
    expect({ code: b.code, err: b.code ? b.stderr : '' }).toEqual({ code: 0, err: '' });
  }, 60_000);
});

import { cliOn, runCli } from '../helpers/cli.js';
import { client, freshDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let other: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('reports');
  other = await freshDatabase('reports_other');
  expect((await runCli(['-d', db.url, 'migrate'])).code).toBe(0);
});
afterAll(async () => {
  await db.drop();
  await other.drop();
});

const cli = cliOn(() => db.url);
const json = async (args: string[], url = db.url) => {
  const r = await cli([...args, '--json'], { url });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
};
const until = async (what: string, ok: () => Promise<boolean>) => {
  for (let i = 0; i < 100; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe('report unused-indexes / duplicate-indexes / invalid-indexes', () => {
  let serverVersion = 0;
  beforeAll(async () => {
    await db.sql`
      create table bz_probe (
        id bigint primary key,
        user_id bigint references users (id),
        code text,
        a int, b int, c int,
        r int4range,
        constraint bz_probe_code_key unique (code),
        constraint bz_probe_r_excl exclude using gist (r with &&)
      )`;
    for (const ddl of [
      'create index bz_probe_user_id_idx on bz_probe (user_id)', // serves the foreign key
      'create index bz_probe_unused_idx on bz_probe (b)', // truly unused
      'create index bz_probe_used_idx on bz_probe (c)', // scanned below
      'create index bz_probe_a_idx on bz_probe (a)', // leading prefix of (a, b)
      'create index bz_probe_a_b_idx on bz_probe (a, b)',
      'create index bz_probe_a_hash_idx on bz_probe using hash (a)', // other method
      'create index bz_probe_a_pos_idx on bz_probe (a) where a > 0', // other predicate
      'create index bz_probe_code_lower_idx on bz_probe (lower(code))', // expression
      'create index bz_probe_b_desc_idx on bz_probe (b desc)', // other sort order
      'create index bz_probe_b_again_idx on bz_probe (b)', // identical to bz_probe_unused_idx, newer
      'create index bz_probe_code_idx on bz_probe (code)', // same as the unique constraint's index
      'create unique index bz_probe_code_uniq on bz_probe (code)', // a second unique index on code
    ])
      await db.sql.unsafe(ddl);
    await db.sql`insert into bz_probe (id, a, b, c, code) values (1, 1, 1, 1, 'x'), (2, 1, 2, 2, 'y'), (3, 2, 3, 3, 'z')`;
    // a failed CONCURRENTLY build (duplicates in a) leaves an INVALID index behind
    await expect(db.sql`create unique index concurrently bz_probe_bad_uq on bz_probe (a)`).rejects.toMatchObject({ code: '23505' });
    // statistics from now on: reset, then one index scan of bz_probe_used_idx
    // statistics from now on: reset, then one index scan of bz_probe_used_idx, flushed at once
    await db.sql`select pg_stat_reset()`;
    const conn = await db.sql.reserve();
    try {
      await conn`begin`;
      await conn`set local enable_seqscan = off`;
      await conn`set local enable_bitmapscan = off`;
      await conn`select id from bz_probe where c = 2`;
      await conn`commit`;
      // PostgreSQL 15+ flushes a backend's statistics when it goes idle, at most once a second unless forced
      const [{ v }] = await conn<{ v: number }[]>`select current_setting('server_version_num')::int as v`;
      serverVersion = v;
      if (v >= 150000) await conn`select pg_stat_force_next_flush()`;
    } finally {
      conn.release();
    }
    await until('the scan to reach the statistics', async () => {
      const [{ n }] = await db.sql<
        { n: string }[]
      >`select idx_scan::text as n from pg_stat_user_indexes where indexrelname = 'bz_probe_used_idx'`;
      return Number(n) > 0;
    });
  });

  it('unused-indexes: 0 scans, without primary, unique, exclusion, constraint-backing, FK-supporting or invalid indexes', async () => {
    const r = await json(['report', 'unused-indexes']);
    const probe = r.indexes.filter((i: { table: string }) => i.table === 'bz_probe');
    expect(probe.map((i: { index: string }) => i.index).sort()).toEqual([
      'bz_probe_a_b_idx',
      'bz_probe_a_hash_idx',
      'bz_probe_a_idx',
      'bz_probe_a_pos_idx',
      'bz_probe_b_again_idx',
      'bz_probe_b_desc_idx',
      'bz_probe_code_idx',
      'bz_probe_code_lower_idx',
      'bz_probe_unused_idx',
    ]);
    expect(probe.find((i: { index: string }) => i.index === 'bz_probe_unused_idx')).toMatchObject({
      schema: 'public',
      scans: 0,
      tuples_read: 0,
      ...(serverVersion >= 160000 ? { last_idx_scan: null } : {}),
      definition: 'CREATE INDEX bz_probe_unused_idx ON public.bz_probe USING btree (b)',
      drop: 'DROP INDEX CONCURRENTLY IF EXISTS "public"."bz_probe_unused_idx";',
    });
    expect(probe.every((i: { bytes: number }) => i.bytes > 0)).toBe(true);
    // the migrations' FK indexes serve foreign keys: never reported
    const names = r.indexes.map((i: { index: string }) => i.index);
    expect(names).not.toEqual(expect.arrayContaining(['cards_checklist_card_user_idx']));
    expect(
      names.filter((n: string) =>
        ['checklist_cards_base_card_id_idx', 'cards_checklist_card_user_idx', 'personal_cards_checklist_card_id_idx'].includes(n),
      ),
    ).toEqual([]);
    expect(names).toContain('users_created_at_idx');
    // statistics were reset just now
    expect(r).toMatchObject({ statsSource: 'stats_reset', statsTooYoung: true });
    expect(r.statsAgeDays).toBeLessThan(1);
  });

  it('unused-indexes in text: a warning about young statistics, the table, and the DROP statements, never run', async () => {
    const r = await cli(['report', 'unused-indexes']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: usage statistics were reset .* \(0\.0 days ago\): younger than 7 days/);
    // "last scan" (last_idx_scan) exists from PostgreSQL 16 on
    const last = serverVersion >= 160000;
    expect(r.stdout).toMatch(
      new RegExp(`│ index\\s+│ table\\s+│ size\\s+│ scans\\s+│ tuples read\\s+│${last ? ' last scan\\s+│' : '\\n'}`),
    );
    expect(r.stdout).toMatch(
      new RegExp(`│ public\\.bz_probe_unused_idx\\s+│ bz_probe\\s+│ [\\d.]+ kB\\s+│ 0\\s+│ 0\\s+│${last ? ' never\\s+│' : '\\n'}`),
    );
    expect(r.stdout).toMatch(/^ {2}DROP INDEX CONCURRENTLY IF EXISTS "public"\."bz_probe_unused_idx";$/m);
    const [{ ok }] = await db.sql<{ ok: boolean }[]>`select to_regclass('bz_probe_unused_idx') is not null as ok`;
    expect(ok).toBe(true);
  });

  it('duplicate-indexes: leading prefixes and identical indexes, one line each; other method, predicate, expression or order are not duplicates', async () => {
    const r = await json(['report', 'duplicate-indexes']);
    // nothing else in the migrated schema is a duplicate (the migrations promise it)
    expect(
      r.indexes.map((d: { index: string; covered_by: string; constraint: string | null; drop: string }) => [
        d.index,
        d.covered_by,
        d.constraint,
        d.drop,
      ]),
    ).toEqual([
      ['bz_probe_a_idx', 'bz_probe_a_b_idx', null, 'DROP INDEX CONCURRENTLY IF EXISTS "public"."bz_probe_a_idx";'],
      ['bz_probe_b_again_idx', 'bz_probe_unused_idx', null, 'DROP INDEX CONCURRENTLY IF EXISTS "public"."bz_probe_b_again_idx";'],
      ['bz_probe_code_idx', 'bz_probe_code_key', null, 'DROP INDEX CONCURRENTLY IF EXISTS "public"."bz_probe_code_idx";'],
      ['bz_probe_code_uniq', 'bz_probe_code_key', null, 'DROP INDEX CONCURRENTLY IF EXISTS "public"."bz_probe_code_uniq";'],
    ]);
    const text = await cli(['report', 'duplicate-indexes']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/│ public\.bz_probe_a_idx\s+│ bz_probe_a_b_idx\s+│ bz_probe\s+│/);
    expect(text.stdout).toMatch(/^ {2}DROP INDEX CONCURRENTLY IF EXISTS "public"\."bz_probe_a_idx";$/m);
  });

  it('duplicate-indexes: of two identical unique constraints, the newer is dropped as a constraint', async () => {
    await db.sql`create table bz_twins (id int, code text, constraint bz_twins_code_key unique (code))`;
    await db.sql`alter table bz_twins add constraint bz_twins_code_key2 unique (code)`;
    try {
      const r = await json(['report', 'duplicate-indexes']);
      expect(
        r.indexes.filter((d: { table: string }) => d.table === 'bz_twins').map((d: { index: string; drop: string }) => [d.index, d.drop]),
      ).toEqual([['bz_twins_code_key2', 'ALTER TABLE "public"."bz_twins" DROP CONSTRAINT "bz_twins_code_key2";']]);
    } finally {
      await db.sql`drop table bz_twins`;
    }
  });

  it('invalid-indexes: the INVALID index of the failed CONCURRENTLY build, but not a build in progress', async () => {
    await db.sql`create table bz_building (x int)`;
    const writer = await db.sql.reserve();
    let building: Promise<unknown> | undefined;
    try {
      // an open writer makes CREATE INDEX CONCURRENTLY wait (its index already exists, not yet valid)
      await writer`begin`;
      await writer`insert into bz_building values (1)`;
      building = db.sql`create index concurrently bz_building_x_idx on bz_building (x)`.then(() => 'built');
      await until('the build to start', async () => {
        const [{ ok }] = await db.sql<{ ok: boolean }[]>`
          select exists (select 1 from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'bz_building_x_idx' and not i.indisvalid) as ok`;
        return ok;
      });
      const r = await json(['report', 'invalid-indexes']);
      expect(r.indexes).toEqual([
        {
          schema: 'public',
          table: 'bz_probe',
          index: 'bz_probe_bad_uq',
          bytes: expect.any(Number),
          definition: 'CREATE UNIQUE INDEX bz_probe_bad_uq ON public.bz_probe USING btree (a)',
          drop: 'DROP INDEX CONCURRENTLY IF EXISTS "public"."bz_probe_bad_uq";',
        },
      ]);
    } finally {
      await writer`commit`;
      writer.release();
    }
    expect(await building).toBe('built');
    const text = await cli(['report', 'invalid-indexes']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /│ public\.bz_probe_bad_uq\s+│ bz_probe\s+│ .* │ CREATE UNIQUE INDEX bz_probe_bad_uq ON public\.bz_probe USING btree \(a\) │/,
    );
    expect(text.stdout).toMatch(/^ {2}DROP INDEX CONCURRENTLY IF EXISTS "public"\."bz_probe_bad_uq";$/m);
    // the reports never drop anything
    const [{ ok }] = await db.sql<{ ok: boolean }[]>`select to_regclass('bz_probe_bad_uq') is not null as ok`;
    expect(ok).toBe(true);
  });

  it('on a database with nothing to report: one line each, exit 0', async () => {
    for (const [what, line] of [
      ['unused-indexes', /^no unused index \(statistics since /],
      ['duplicate-indexes', /^no duplicate index$/],
      ['invalid-indexes', /^no invalid index$/],
    ] as const) {
      const r = await cli(['report', what], { url: other.url });
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toMatch(line);
    }
  });
});

describe('report slow-queries', () => {
  // pg_stat_statements keys statements by their parse tree (aliases and constants do not count):
  // each marker is a table of its own, so each statement is an entry of its own
  const LONG = `select pg_sleep(0.11), ${Array.from({ length: 25 }, (_, i) => `x + ${i + 1}`).join(', ')} from bz_marker_long`;
  const LONG_NORMALISED = `select pg_sleep($1), ${Array.from({ length: 25 }, (_, i) => `x + $${i + 2}`).join(', ')} from bz_marker_long`;
  beforeAll(async () => {
    await db.sql`create extension pg_stat_statements`;
    for (const t of ['bz_marker_slow', 'bz_marker_long', 'bz_marker_fast'])
      await db.sql.unsafe(`create table ${t} (x int); insert into ${t} values (1)`);
    await other.sql`create table bz_marker_other (x int)`;
    await other.sql`insert into bz_marker_other values (1)`;
    // planning times are tracked for the sessions of this database from now on
    await db.sql.unsafe(`alter database ${db.name} set pg_stat_statements.track_planning = on`);
    const s = client(db.url, 1);
    try {
      for (let i = 0; i < 3; i++) await s`select pg_sleep(0.12) from bz_marker_slow`;
      await s.unsafe(LONG);
      for (let i = 0; i < 5; i++) await s`select x from bz_marker_fast`;
    } finally {
      await s.end();
    }
    // a slow statement of another database: never in this database's report
    for (let i = 0; i < 2; i++) await other.sql`select pg_sleep(0.15) from bz_marker_other`;
  });

  interface Q {
    query: string;
    calls: number;
    total_ms: number;
    mean_ms: number;
    mean_exec_ms: number;
    mean_plan_ms: number | null;
    rows_per_call: number;
  }
  const find = (qs: Q[], marker: string) => qs.find((q) => q.query.startsWith('select') && q.query.includes(marker));

  it('lists the statements of this database above --min-mean-ms (default 100), with their numbers', async () => {
    const r = await json(['report', 'slow-queries']);
    expect(r.track_planning).toBe(true);
    const slow = find(r.queries, 'bz_marker_slow')!;
    expect(slow).toMatchObject({ query: 'select pg_sleep($1) from bz_marker_slow', calls: 3, rows_per_call: 1 });
    expect(slow.mean_ms).toBeGreaterThanOrEqual(120);
    expect(slow.mean_exec_ms).toBeGreaterThanOrEqual(120);
    expect(slow.total_ms).toBeGreaterThanOrEqual(360);
    expect(slow.mean_plan_ms).toEqual(expect.any(Number));
    expect(find(r.queries, 'bz_marker_long')!.query).toBe(LONG_NORMALISED);
    expect(find(r.queries, 'bz_marker_fast')).toBeUndefined();
    expect(find(r.queries, 'bz_marker_other')).toBeUndefined();
    expect(r.queries.every((q: Q) => q.mean_ms >= 100)).toBe(true);
  });

  it('--min-mean-ms, --min-calls, --limit and --sort', async () => {
    const all = await json(['report', 'slow-queries', '--min-mean-ms', '0', '--limit', '1000']);
    expect(find(all.queries, 'bz_marker_fast')).toMatchObject({ calls: 5 });
    expect(find(all.queries, 'bz_marker_other')).toBeUndefined();
    const often = await json(['report', 'slow-queries', '--min-calls', '4']);
    expect(find(often.queries, 'bz_marker_slow')).toBeUndefined();
    expect((await json(['report', 'slow-queries', '--min-mean-ms', '0', '--limit', '2'])).queries).toHaveLength(2);
    for (const [sort, key] of [
      ['total', 'total_ms'],
      ['mean', 'mean_ms'],
      ['calls', 'calls'],
    ] as const) {
      const qs: Q[] = (await json(['report', 'slow-queries', '--min-mean-ms', '0', '--limit', '50', '--sort', sort])).queries;
      expect(qs.length).toBeGreaterThan(2);
      expect(qs.map((q) => q[key])).toEqual([...qs.map((q) => q[key])].sort((x, y) => y - x));
    }
    const bad = await cli(['report', 'slow-queries', '--sort', 'rows']);
    expect(bad.code).toBe(2);
  });

  it('text: a table with plan / exec times and the whole query off a TTY', async () => {
    const r = await cli(['report', 'slow-queries']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/│ query\s+│ calls │ total\s+│ mean\s+│ rows\/call │ hit % │ plan \/ exec\s+│/);
    expect(r.stdout).toMatch(/│ select pg_sleep\(\$1\) from bz_marker_slow\s+│ 3\s+│ [\d.]+(ms|s)\s+│ 1\d\d\.\dms\s+│ 1\.0\s+│/);
    expect(r.stdout).toContain(LONG_NORMALISED);
  });

  it('--fail-mean-ms: exit 1 when any statement is above it, whatever the display filters; exit 0 otherwise', async () => {
    const fail = await cli(['report', 'slow-queries', '--fail-mean-ms', '100']);
    expect(fail.code).toBe(1);
    expect(fail.stderr).toMatch(/^error: \d+ statement\(s\) above --fail-mean-ms 100: the slowest has a mean of [\d.]+m?s$/m);
    const hidden = await cli(['report', 'slow-queries', '--fail-mean-ms', '100', '--min-mean-ms', '100000', '--json']);
    expect(hidden.code).toBe(1);
    expect(JSON.parse(hidden.stdout)).toMatchObject({ queries: [], failMeanMs: 100, over: { count: expect.any(Number) } });
    expect(JSON.parse(hidden.stdout).over.count).toBeGreaterThanOrEqual(2);
    const ok = await cli(['report', 'slow-queries', '--fail-mean-ms', '60000']);
    expect(ok.code).toBe(0);
  });

  it('without the extension: one line saying how to enable it, exit 1, no stack trace', async () => {
    const r = await cli(['report', 'slow-queries'], { url: other.url });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('error: pg_stat_statements is not installed in this database: run CREATE EXTENSION pg_stat_statements');
    expect(r.stdout).toBe('');
    const j = await cli(['report', 'slow-queries', '--json'], { url: other.url });
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({
      type: 'error',
      exitCode: 1,
      error: expect.stringMatching(/^pg_stat_statements is not installed/),
    });
  });
});

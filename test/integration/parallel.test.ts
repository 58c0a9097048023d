import postgres from 'postgres';
import { diffSnapshots, formatDiff, snapshot, type Snapshot } from '../../src/core/checks/catalog.js';
import type { Sql } from '../../src/db/connection.js';
import { dirArgs, fixture, runCli } from '../helpers/cli.js';
import { SQL_DIR } from '../helpers/data.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { killStartedClis, startCli, waitFor, type RunningCli } from '../helpers/sessions.js';

/**
 * migrate --parallel on a real server. The first build (a_gate_idx) is held at will: its operator
 * class compares through a function that waits on advisory lock 4242 while the test holds it.
 * 0002: [0] a_gate_idx on a, [1] b_v_idx on b, [2] c_v_idx on c, [3] b_w_idx on b,
 *       [4] ALTER TABLE c … NOT VALID (a barrier), [5] d_v_idx on d, [6] a_w_idx on a.
 */
let db: TestDatabase;
let clean: Snapshot;
let gate: Sql;
const dirs = dirArgs(fixture('parallel'));
const cli = (args: string[]) => runCli(['-d', db.url, ...args, ...dirs], { timeoutMs: 120_000 });
const start = (args: string[]) => startCli(['-d', db.url, ...args, ...dirs]);

type Ev = { type: string; n?: number; index?: number; version?: number; target?: string; [k: string]: unknown };
const events = (out: string): Ev[] =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Ev);
const of2 = (evs: Ev[], type: string) => evs.filter((e) => e.type === type && e.version === 2).map((e) => e.index);

const holdGate = () => gate.unsafe('select pg_advisory_lock(4242)');
const releaseGate = () => gate.unsafe('select pg_advisory_unlock_all()');

/** Builds on the held table a, b, c done, the barrier not started: the point where the tests act. */
async function heldWithOthersDone(run: RunningCli): Promise<void> {
  await run.until(/"type":"statement:done"[^\n]*"target":"public.b_w_idx"/);
  await run.until(/"type":"statement:done"[^\n]*"target":"public.c_v_idx"/);
}

async function assertRecovered(label: string) {
  const d = formatDiff(diffSnapshots(clean, await snapshot(db.sql, SQL_DIR)));
  expect({ label, d }).toEqual({ label, d: [] });
  const [{ invalid }] = await db.sql<{ invalid: number }[]>`select count(*)::int as invalid from pg_index where not indisvalid`;
  expect({ label, invalid }).toEqual({ label, invalid: 0 });
  const st = JSON.parse((await cli(['status', '--json'])).stdout);
  expect(st.lines.every((l: { state: string }) => l.state === 'applied')).toBe(true);
}

beforeAll(async () => {
  db = await freshDatabase('par');
  gate = postgres(db.url, { max: 1, onnotice: () => undefined });
  expect((await cli(['migrate'])).code).toBe(0);
  clean = await snapshot(db.sql, SQL_DIR);
  expect((await cli(['rollback', '--to', '1', '--yes'])).code).toBe(0);
}, 120_000);

afterEach(async () => {
  killStartedClis();
  await releaseGate();
});

afterAll(async () => {
  await gate.end({ timeout: 1 });
  await db.drop();
});

describe('migrate --parallel', () => {
  it('runs builds on other tables beside a held one, one build per table, the barrier after all, each build on its own session', async () => {
    await holdGate();
    const run = await start(['migrate', '--to', '2', '--parallel', '3', '--json']);
    await heldWithOthersDone(run);
    // a_gate_idx still runs on a session of its own; the barrier waits for it
    const [held] = await db.sql<{ app: string }[]>`
      select application_name as app from pg_stat_activity where query ilike '%create index concurrently a_gate_idx%' and pid <> pg_backend_pid()`;
    expect(held?.app).toMatch(/^boosterz-db\/migrate:build-\d$/);
    let evs = events(run.output());
    expect(of2(evs, 'statement:start')).toEqual(expect.arrayContaining([0, 1, 2, 3]));
    expect(of2(evs, 'statement:start')).not.toContain(4);
    expect(of2(evs, 'statement:done')).not.toContain(0);
    await waitFor('a progress event of the held build', () => events(run.output()).some((e) => e.type === 'progress' && e.index === 0));
    await releaseGate();
    const r = await run.result;
    expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: '' });
    evs = events(r.stdout).filter((e) => e.version === 2 && (e.type === 'statement:start' || e.type === 'statement:done'));
    const at = (type: string, index: number) => evs.findIndex((e) => e.type === type && e.index === index);
    expect(at('statement:start', 3)).toBeGreaterThan(at('statement:done', 1)); // b_w after b_v (same table)
    for (const i of [0, 1, 2, 3]) expect(at('statement:start', 4)).toBeGreaterThan(at('statement:done', i)); // the barrier after all before it
    for (const i of [5, 6]) expect(at('statement:start', i)).toBeGreaterThan(at('statement:done', 4)); // and everything after it waits
    const sum = events(r.stdout).find((e) => e.type === 'summary') as unknown as { statements: { estimateMs: number; actualMs: number }[] };
    expect(sum.statements.length).toBe(7);
    expect((await cli(['migrate'])).code).toBe(0);
    await assertRecovered('parallel run');
    expect((await cli(['rollback', '--to', '1', '--yes'])).code).toBe(0);
  }, 120_000);

  it('kill -9 while builds run side by side: the rerun finishes with no INVALID index and the clean catalog', async () => {
    await holdGate();
    const run = await start(['migrate', '--parallel', '3', '--json']);
    await heldWithOthersDone(run);
    process.kill(run.pid, 'SIGKILL');
    expect((await run.result).signal).toBe('SIGKILL');
    await releaseGate();
    const rerun = await cli(['migrate', '--parallel', '3', '--lock-wait', '60s']);
    expect({ code: rerun.code, err: rerun.code ? rerun.stderr : '' }).toEqual({ code: 0, err: '' });
    await assertRecovered('SIGKILL during a parallel run');
    expect((await cli(['rollback', '--to', '1', '--yes'])).code).toBe(0);
  }, 120_000);

  it('Ctrl-C cancels every running build and exits 130; the rerun finishes', async () => {
    await holdGate();
    const run = await start(['migrate', '--parallel', '3']);
    await run.until(/\[4\/7\] 0002 create index concurrently public\.b_w_idx on public\.b \d/); // done lines
    await run.until(/\[3\/7\] 0002 create index concurrently public\.c_v_idx on public\.c \d/);
    process.kill(run.pid, 'SIGINT');
    const r = await run.result;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/rerun to resume/);
    const running = async () =>
      (
        await db.sql<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity
           where query ilike '%create index concurrently a_gate_idx%' and state = 'active' and pid <> pg_backend_pid()`
      )[0].n;
    await waitFor('the held build to be cancelled (the gate is still held: it cannot have finished)', async () => (await running()) === 0);
    await releaseGate();
    const rerun = await cli(['migrate', '--parallel', '3']);
    expect({ code: rerun.code, err: rerun.code ? rerun.stderr : '' }).toEqual({ code: 0, err: '' });
    await assertRecovered('SIGINT during a parallel run');
    expect((await cli(['rollback', '--to', '1', '--yes'])).code).toBe(0);
  }, 120_000);
});

describe('migrate --window', () => {
  it('a window too short for the first statement: exit 7, nothing applied', async () => {
    const r = await cli(['migrate', '--window', '1ms']);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/stopped at the end of the maintenance window: 7 statements left; rerun in the next window resumes/);
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from pg_class where relname = 'a_gate_idx'`;
    expect(n).toBe(0);
  });

  it('a running build is never cancelled by the window; the run stops at the next statement (exit 7) and a rerun resumes', async () => {
    await holdGate();
    const t0 = Date.now();
    const run = await start(['migrate', '--parallel', '3', '--window', '4s', '--json']);
    await heldWithOthersDone(run);
    await waitFor('the window to end while the build is held', () => Date.now() > t0 + 5000, 30_000);
    await releaseGate();
    const r = await run.result;
    expect(r.code).toBe(7);
    const evs = events(r.stdout);
    expect(of2(evs, 'statement:done')).toEqual(expect.arrayContaining([0, 1, 2, 3])); // the held one completed
    expect(of2(evs, 'statement:start')).not.toContain(4);
    const err = evs.find((e) => e.type === 'error') as unknown as { exitCode: number; left: number; error: string };
    expect(err).toMatchObject({ exitCode: 7, left: 3 });
    const rerun = await cli(['migrate', '--json']);
    expect(rerun.code).toBe(0);
    expect(of2(events(rerun.stdout), 'statement:skip')).toEqual([0, 1, 2, 3]);
    await assertRecovered('window, then rerun');
    expect((await cli(['rollback', '--to', '1', '--yes'])).code).toBe(0);
  }, 120_000);
});

describe('estimates', () => {
  it('the dry run prints each estimate, the total one at a time and with --parallel N; later runs calibrate from the history', async () => {
    const first = db;
    db = await freshDatabase('est');
    try {
      await estimates();
    } finally {
      await db.drop();
      db = first;
    }
  }, 120_000);
});

async function estimates() {
  {
    const text = await cli(['migrate', '--dry-run', '--parallel', '2']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/│ estimate\s*│/);
    expect(text.stdout).toMatch(/estimated: [\d.]+m?s one at a time, [\d.]+m?s with --parallel 2/);
    const j = JSON.parse((await cli(['migrate', '--dry-run', '--parallel', '2', '--json'])).stdout.trim().split('\n').pop()!);
    const e = j.estimates as {
      statements: { index: number; version: number; ms: number; source: string }[];
      oneAtATimeMs: number;
      parallelMs: number;
    };
    expect(e.statements).toHaveLength(j.plan.length);
    expect(e.statements.every((s) => s.ms > 0)).toBe(true);
    expect(e.parallelMs).toBeLessThan(e.oneAtATimeMs);
    // the builds' parallel workers: N builds side by side take no more cores than the server has
    const parallelEvent = async (cpus: string) =>
      events((await cli(['migrate', '--dry-run', '--parallel', '2', '--server-cpus', cpus, '--json'])).stdout).find(
        (x) => x.type === 'parallel',
      )!;
    const [{ workers }] = await db.sql<{ workers: number }[]>`select current_setting('max_parallel_maintenance_workers')::int as workers`;
    expect(await parallelEvent('2')).toMatchObject({ builds: 2, cores: 2, workersPerBuild: 0 });
    expect(await parallelEvent('64')).toMatchObject({ builds: 2, cores: 64, workersPerBuild: workers });
    expect((await cli(['migrate', '--dry-run', '--parallel', '2', '--server-cpus', '0'])).code).toBe(2);
    const four = events((await cli(['migrate', '--dry-run', '--parallel', '4', '--server-cpus', '2', '--json'])).stdout);
    expect(four.find((x) => x.type === 'warning' && /--parallel 4 on a server with 2 cores/.test(String(x.message)))).toBeDefined();
    const two = events((await cli(['migrate', '--dry-run', '--parallel', '2', '--server-cpus', '2', '--json'])).stdout);
    expect(two.filter((x) => x.type === 'warning' && /cores/.test(String(x.message)))).toEqual([]);
    const build = (x: typeof e) => x.statements.find((s) => s.version === 2 && s.index === 1)!;
    expect(build(e).source).toBe('default');
    // after a run, the durations are in boosterz_db.statement_stats: the next plan starts from them
    // (tables big enough that the builds take more than their fixed cost: a history of builds
    // faster than that gives no rate, and the default is used)
    expect((await cli(['migrate', '--to', '1'])).code).toBe(0);
    for (const t of ['b', 'c', 'd']) await db.sql.unsafe(`insert into public.${t} select g, g % 7 from generate_series(301, 300000) g`);
    await db.sql`analyze`;
    expect((await cli(['migrate', '--to', '2'])).code).toBe(0);
    expect((await cli(['rollback', '--to', '1', '--yes'])).code).toBe(0);
    const again = JSON.parse((await cli(['migrate', '--dry-run', '--json'])).stdout.trim().split('\n').pop()!);
    expect(build(again.estimates).source).toBe('history');
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from boosterz_db.statement_stats where shape = 'build'`;
    expect(n).toBe(6); // the six builds of 0002
  }
}

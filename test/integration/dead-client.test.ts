import { dirArgs, fixture, runCli, runCliUntil } from '../helpers/cli.js';
import { waitFor } from '../helpers/sessions.js';
import { startTopology, type Topology } from '../helpers/topology.js';
import postgres from 'postgres';
import type { Sql } from '../../src/db/connection.js';

/**
 * kill -9 of the client during a CREATE INDEX CONCURRENTLY on a few million rows, on a server
 * without a server-wide client_connection_check_interval: the migration session sets it, so
 * the server ends the orphaned build within seconds, and an immediate rerun (no --lock-wait)
 * sees the holder's heartbeat has stopped, waits for that session to end, and completes. A
 * live run is never disturbed: a second run beside it exits 4.
 */
let topo: Topology;
let sql: Sql;
const DB = 'boosterz_dead_client';
const dirs = dirArgs(fixture('bigindex'));
const cli = (args: string[]) => runCli(['-d', topo.primary.url(DB), ...dirs, ...args], { timeoutMs: 300_000 });
const ROWS = 3_000_000;

/** Waits until the index build runs (pg_stat_progress_create_index), returning the building backend's pid. */
const building = () =>
  waitFor(
    'the index build',
    async () => {
      const [r] = await topo.primary.sql<{ pid: number }[]>`
        select pid from pg_stat_progress_create_index where datname = ${DB} and phase like 'building index%'`;
      return r?.pid;
    },
    120_000,
  );

beforeAll(async () => {
  topo = await startTopology();
  await topo.createDatabase(DB);
  expect((await cli(['migrate', '--to', '1'])).code).toBe(0);
  sql = postgres(topo.primary.url(DB), { max: 2, onnotice: () => undefined });
  await sql.unsafe(`insert into public.big select g, md5(g::text) || md5((g * 7)::text) from generate_series(1, ${ROWS}) g`);
  await sql.unsafe(`alter database ${DB} set maintenance_work_mem = '1MB'`); // sorts on disk: a build of several seconds
}, 300_000);

afterAll(async () => {
  await sql?.end({ timeout: 1 });
  await topo?.stop();
});

it('a live run is not disturbed: a second run beside it exits 4', async () => {
  const first = runCli(['-d', topo.primary.url(DB), ...dirs, 'migrate'], { timeoutMs: 300_000 });
  await building();
  const second = await cli(['migrate']);
  expect({ code: second.code, err: second.stderr.split('\n')[0] }).toEqual({
    code: 4,
    err: expect.stringContaining('another run holds the migration lock'),
  });
  expect((await first).code).toBe(0);
  expect((await cli(['rollback', '--to', '1', '--yes'])).code).toBe(0);
});

it('kill -9 during the build: an immediate rerun waits for the orphaned session to end, then completes', async () => {
  const { pid, result } = await runCliUntil(['-d', topo.primary.url(DB), ...dirs, 'migrate'], /migrate: 1 migration/, {
    timeoutMs: 300_000,
  });
  const backend = await building();
  // The server notices the dead client within a second (client_connection_check_interval),
  // sooner than a rerun starts. Frozen, the build's backend cannot notice: the rerun surely
  // finds it, as it finds a build busy in a step that checks for interrupts rarely.
  process.kill(backend, 'SIGSTOP');
  const thaw = () => {
    try {
      process.kill(backend, 'SIGCONT');
    } catch {
      // already gone
    }
  };
  let rerun: Awaited<ReturnType<typeof cli>>;
  try {
    process.kill(pid, 'SIGKILL');
    expect((await result).signal).toBe('SIGKILL');
    const waiting = await runCliUntil(['-d', topo.primary.url(DB), ...dirs, 'migrate'], /whose run has gone/, { timeoutMs: 300_000 });
    const [still] = await topo.primary.sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where pid = ${backend}`;
    expect(still.n).toBe(1);
    thaw();
    rerun = await waiting.result;
  } finally {
    thaw();
  }
  expect({ code: rerun.code, err: rerun.code ? rerun.stderr : '' }).toEqual({ code: 0, err: '' });
  expect(rerun.stderr).toMatch(new RegExp(`held by pid ${backend} .*whose run has gone \\(its heartbeat stopped\\)`));
  const [idx] = await sql<{ valid: boolean }[]>`
    select i.indisvalid as valid from pg_index i where i.indexrelid = to_regclass('public.big_label_idx')`;
  expect(idx).toEqual({ valid: true });
  const st = JSON.parse((await cli(['status', '--json'])).stdout);
  expect(st.lines.map((l: { state: string }) => l.state)).toEqual(['applied', 'applied']);
});

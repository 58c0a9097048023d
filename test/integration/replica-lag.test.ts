import postgres from 'postgres';
import type { Sql } from '../../src/db/connection.js';
import { dirArgs, fixture, runCli, type CliResult } from '../helpers/cli.js';
import { startTopology, type Topology } from '../helpers/topology.js';

/**
 * migrate --max-replica-lag against a real streaming standby whose replay is paused
 * (pg_wal_replay_pause): the run holds before its next statement, with throttle events naming
 * the standby and its lag; Ctrl-C while held exits 130; after pg_wal_replay_resume the run
 * finishes. Pre-flight shows the standby, a slot holding WAL, and the WAL estimate.
 */
let topo: Topology;
let sql: Sql;
const DB = 'boosterz_replica_lag';
const dirs = dirArgs(fixture('replica'));
const cli = (args: string[]) => runCli(['-d', topo.primary.url(DB), ...dirs, ...args], { timeoutMs: 300_000 });

/** Runs migrate with --json; resolves `held` once `n` throttle events have come. */
function migrateUntilThrottled(args: string[], n: number) {
  let pid = 0;
  let seen!: () => void;
  const held = new Promise<void>((r) => (seen = r));
  const result: Promise<CliResult> = runCli(['-d', topo.primary.url(DB), ...dirs, '--json', 'migrate', ...args], {
    timeoutMs: 300_000,
    onSpawn: (p) => (pid = p),
    onStderr: (s) => (s.match(/"type":"throttle"/g) ?? []).length >= n && seen(),
  });
  return {
    pid: () => pid,
    held: Promise.race([held, result.then((r) => Promise.reject(new Error(`ended before: ${r.stdout}${r.stderr}`)))]),
    result,
  };
}

const journaled = async () =>
  (await sql<{ n: number }[]>`select count(*)::int as n from boosterz_db.statement_journal where version = 2`)[0].n;

beforeAll(async () => {
  topo = await startTopology();
  await topo.createDatabase(DB);
  expect((await cli(['migrate', '--to', '1'])).code).toBe(0);
  sql = postgres(topo.primary.url(DB), { max: 2, onnotice: () => undefined });
  await sql`insert into public.items select g, md5(g::text), md5((g * 3)::text) from generate_series(1, 300000) g`;
  await sql`analyze public.items`;
  await sql`select pg_create_physical_replication_slot('spare_slot', true)`; // a slot nobody uses: it holds WAL
  await topo.caughtUp();
}, 300_000);

afterAll(async () => {
  await sql?.end({ timeout: 1 });
  await topo?.stop();
});

it('a paused standby holds migrate before its next statement; Ctrl-C there exits 130; after resume the run finishes', async () => {
  await topo.standby.sql`select pg_wal_replay_pause()`;
  const first = migrateUntilThrottled(['--max-replica-lag', '1MB'], 1);
  await first.held;
  process.kill(first.pid(), 'SIGINT');
  const stopped = await first.result;
  expect(stopped.code).toBe(130);
  expect(await journaled()).toBe(1); // statement 1 ran, statement 2 never started

  const run = migrateUntilThrottled(['--max-replica-lag', '1MB'], 3);
  await run.held;
  expect(await journaled()).toBe(1); // still held: three polls later, nothing more ran
  await topo.standby.sql`select pg_wal_replay_resume()`;
  const r = await run.result;
  expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
  const events = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const throttle = events.find((e) => e.type === 'throttle')!;
  expect(throttle).toMatchObject({ standby: 'standby1', limit: '1MB', before: 'statement 2/3' });
  expect(throttle.lagBytes as number).toBeGreaterThan(1024 * 1024);
  expect(events.some((e) => e.type === 'throttle:done')).toBe(true);
  const pre = events.find((e) => e.type === 'replicas')!;
  expect(pre).toMatchObject({ limit: '1MB', standbys: [expect.objectContaining({ name: 'standby1' })] });
  expect(pre.slots).toEqual([expect.objectContaining({ name: 'spare_slot', active: false })]);
  expect(pre.walEstimateBytes as number).toBeGreaterThan(10 * 1024 * 1024);
});

it('pre-flight prints the standbys, the slots and the WAL estimate', async () => {
  expect((await cli(['rollback', '--to', '1', '--yes'])).code).toBe(0);
  const r = await cli(['migrate', '--dry-run']);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/pre-flight: standby standby1 \(streaming\) lags/);
  expect(r.stderr).toMatch(/replication slot spare_slot \(physical, inactive, wal_status \w+\) holds .* of WAL/);
  expect(r.stderr).toMatch(/the pending index builds will write about [\d.]+ MB of WAL/);
});

it('--max-replica-lag rejects a bad value with exit 2', async () => {
  const r = await cli(['migrate', '--max-replica-lag', 'soon']);
  expect({ code: r.code, err: r.stderr }).toEqual({ code: 2, err: expect.stringContaining('--max-replica-lag must be') });
});

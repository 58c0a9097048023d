import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dirArgs, fixture, runCli, runCliUntil } from '../helpers/cli.js';
import { tempFixture } from '../helpers/fixtures.js';

const basic = dirArgs(fixture('basic'));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const serverPid = async (dir: string) => {
  const f = join(dir, 'cluster', 'postmaster.pid');
  return existsSync(f) ? Number((await readFile(f, 'utf8')).split('\n')[0]) : undefined;
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bz-embedded-'));
});
afterEach(async () => {
  const pid = await serverPid(dir);
  if (pid && alive(pid)) process.kill(pid, 'SIGQUIT');
  await rm(dir, { recursive: true, force: true });
});

describe('--embedded', () => {
  it('runs migrate with no server around, keeps the data, leaves nothing running', async () => {
    const r = await runCli(['migrate', '--embedded', dir, ...basic]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/embedded PostgreSQL started on 127.0.0.1:\d+/);
    expect(r.stderr).not.toMatch(new RegExp((await readFile(join(dir, 'password'), 'utf8')).trim()));
    expect(await serverPid(dir)).toBeUndefined();
    const st = await runCli(['status', '--json', '--embedded', dir, ...basic]);
    expect(JSON.parse(st.stdout).current).toBe(3);
    expect(await serverPid(dir)).toBeUndefined();
  });

  it('stops the server after an error too', async () => {
    const r = await runCli(['migrate', '--embedded', dir, '--to', '9', ...basic]);
    expect(r.code).toBe(2);
    expect(await serverPid(dir)).toBeUndefined();
  });

  it('after a SIGKILL of the tool, the next run reuses the orphaned server and stops it', async () => {
    const f = await tempFixture(undefined, {
      'migrations/0001_slow.sql': 'CREATE TABLE slow (id int);\nSELECT pg_sleep(30);\n',
      'rollback/0001_slow.sql': 'DROP TABLE IF EXISTS slow;\n',
    });
    const { pid, result } = await runCliUntil(['migrate', '--embedded', dir, ...dirArgs(f)], /→ 0001_slow/);
    await new Promise((r) => setTimeout(r, 500));
    process.kill(pid, 'SIGKILL');
    await result;
    const orphan = await serverPid(dir);
    expect(orphan && alive(orphan)).toBeTruthy();
    const st = await runCli(['status', '--embedded', dir, ...dirArgs(f)]);
    expect(st.code).toBe(0);
    expect(st.stderr).toMatch(/reusing the embedded server already running/);
    for (let i = 0; i < 50 && alive(orphan!); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(orphan!)).toBe(false);
  });

  it('removes a stale postmaster.pid left by a killed server', async () => {
    expect((await runCli(['migrate', '--embedded', dir, '--to', '1', ...basic])).code).toBe(0);
    await writeFile(join(dir, 'cluster', 'postmaster.pid'), '999999\n/x\n0\n5432\n\n127.0.0.1\n0 0\nready\n');
    const r = await runCli(['migrate', '--embedded', dir, ...basic]);
    expect(r.code).toBe(0);
    expect(await serverPid(dir)).toBeUndefined();
  });

  it('Ctrl-C cancels the running statement, exits 130 saying rerun, stops the server; the rerun resumes', async () => {
    const f = await tempFixture(undefined, {
      'migrations/0001_tables.sql': 'CREATE TABLE t (id int);\n',
      'rollback/0001_tables.sql': 'DROP TABLE IF EXISTS t;\n',
      'migrations/0002_slow.sql': 'CREATE INDEX CONCURRENTLY t_id ON t (id);\nSELECT pg_sleep(60);\nCREATE INDEX CONCURRENTLY t_id2 ON t (id, id);\n',
      'rollback/0002_slow.sql': 'DROP INDEX CONCURRENTLY IF EXISTS t_id2;\nDROP INDEX CONCURRENTLY IF EXISTS t_id;\n',
    });
    const { pid, result } = await runCliUntil(['migrate', '--embedded', dir, ...dirArgs(f)], /\] 0002 create index concurrently t_id /);
    await new Promise((r) => setTimeout(r, 1000));
    process.kill(pid, 'SIGINT');
    const r = await result;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/rerun to resume/);
    expect(await serverPid(dir)).toBeUndefined();
    const st = JSON.parse((await runCli(['status', '--json', '--embedded', dir, ...dirArgs(f)])).stdout);
    expect(st.lines[1]).toMatchObject({ state: 'partial', progress: { done: 1, total: 3 } });
  }, 60_000);
});

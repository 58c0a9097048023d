import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbedded, stopCluster } from '../../src/db/embedded.js';
import { ROOT, dirArgs, fixture, runCli, runCliUntil } from '../helpers/cli.js';
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
  // a server still exiting writes into its data directory: removing it then fails (ENOTEMPTY)
  for (let i = 0; i < 100 && pid && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
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
      'migrations/0002_slow.sql':
        'CREATE INDEX CONCURRENTLY t_id ON t (id);\nSELECT pg_sleep(60);\nCREATE INDEX CONCURRENTLY t_id2 ON t (id, id);\n',
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

  describe('a stale postmaster.pid naming a pid that now belongs to another process', () => {
    const children: ChildProcess[] = [];
    /** A live process that is not this cluster's server: a plain sleep, or one calling itself "postgres". */
    const impostor = (argv0?: string) => {
      const c = argv0 ? spawn('bash', ['-c', `exec -a ${argv0} sleep 60`]) : spawn('sleep', ['60']);
      children.push(c);
      return c.pid!;
    };
    const stalePidFile = (pid: number) =>
      writeFile(join(dir, 'cluster', 'postmaster.pid'), `${pid}\n${join(dir, 'cluster')}\n0\n1\n\n127.0.0.1\n0 0\nready\n`);
    afterEach(() => {
      for (const c of children.splice(0)) c.kill('SIGKILL');
    });

    it('is never signalled: stopping the cluster leaves it alone', async () => {
      expect((await runCli(['migrate', '--embedded', dir, '--to', '1', ...basic])).code).toBe(0);
      for (const pid of [impostor(), impostor('postgres')]) {
        await new Promise((r) => setTimeout(r, 200)); // let bash exec
        await stalePidFile(pid);
        await stopCluster(join(dir, 'cluster'));
        await new Promise((r) => setTimeout(r, 300));
        expect(alive(pid)).toBe(true);
      }
    });

    it('is taken as stale: the run starts its own server, the process lives on', async () => {
      expect((await runCli(['migrate', '--embedded', dir, '--to', '1', ...basic])).code).toBe(0);
      const pid = impostor('postgres');
      await new Promise((r) => setTimeout(r, 200));
      await stalePidFile(pid);
      const r = await runCli(['migrate', '--embedded', dir, ...basic]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/embedded PostgreSQL started/);
      expect(alive(pid)).toBe(true);
      expect(await serverPid(dir)).toBeUndefined();
    });
  });

  it('concurrent runs on a fresh DIR initialise it once, share the server, all succeed, leave nothing running', async () => {
    const runs = await Promise.all([1, 2, 3].map(() => runCli(['status', '--json', '--embedded', dir, ...basic])));
    for (const r of runs) expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(runs.filter((r) => /initialising a PostgreSQL cluster/.test(r.stderr))).toHaveLength(1);
    expect(await serverPid(dir)).toBeUndefined();
    expect((await runCli(['migrate', '--embedded', dir, ...basic])).code).toBe(0);
  });

  it('waits while another run holds the DIR lock; breaks the lock of a dead run', async () => {
    const lock = join(dir, 'boosterz-db.lock');
    await writeFile(lock, `${process.pid}\n`); // held by a live process: this test
    const pending = runCli(['status', '--embedded', dir, ...basic]);
    await new Promise((r) => setTimeout(r, 1500));
    await rm(lock);
    const r = await pending;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`waiting for another boosterz-db run \\(pid ${process.pid}\\)`));
    await writeFile(lock, '999999\n'); // its run was killed
    expect((await runCli(['status', '--embedded', dir, ...basic])).code).toBe(0);
    expect(existsSync(lock)).toBe(false);
  });

  it('leaves the server running while another client (psql, an app) is connected, and a server it did not start', async () => {
    const srv = await startEmbedded({ dir, resolveFrom: ROOT });
    const { default: postgres } = await import('postgres');
    const psql = postgres(srv.url, { max: 1, connection: { application_name: 'psql' } });
    try {
      await psql`select 1`;
      const pid = await serverPid(dir);
      await srv.stop(); // the run that started it ends while psql is connected
      const r = await runCli(['status', '--embedded', dir, ...basic]);
      expect([r.code, await serverPid(dir), (await psql`select 1 as one`)[0].one]).toEqual([0, pid, 1]);
      expect(r.stderr).toMatch(/left the embedded server on port \d+ running: 1 other session\(s\) connected to it/);
    } finally {
      await psql.end();
    }
    // a server started by hand (here: the record of who started it says another pid) is never stopped
    await writeFile(join(dir, 'server.started-by'), '999999\n');
    const r = await runCli(['status', '--embedded', dir, ...basic]);
    expect(r.stderr).toMatch(/left the embedded server on port \d+ running \(pid \d+\): no boosterz-db run started it/);
    expect(alive((await serverPid(dir))!)).toBe(true);
  });

  it('retries with another port when the picked one is taken before the server listens on it', async () => {
    const squatter: Server = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
    const taken = (squatter.address() as { port: number }).port;
    const picks: number[] = [];
    const lines: string[] = [];
    const free = () =>
      new Promise<number>((res) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as { port: number }).port;
          s.close(() => res(p));
        });
      });
    try {
      const srv = await startEmbedded({
        dir,
        resolveFrom: ROOT,
        log: (l) => lines.push(l),
        pickPort: async () => {
          const p = picks.length ? await free() : taken; // the race, made certain: another process got the first pick
          picks.push(p);
          return p;
        },
      });
      expect(picks[0]).toBe(taken);
      expect(srv.port).not.toBe(taken);
      expect(lines.join('\n')).toMatch(new RegExp(`port ${taken} was taken`));
      await srv.stop();
      expect(await serverPid(dir)).toBeUndefined();
    } finally {
      squatter.close();
    }
  });
});

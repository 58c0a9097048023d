import postgres from 'postgres';
import { configureSession, type ReservedSql, type Sql } from './connection.js';

/*
 * Why not `sql.reserve()` for a session the tool holds (job locks, LISTEN, the daemon's own):
 *
 * postgres.js 3.4.9 (src/index.js `reserve`) binds the reserved handle to one Connection and
 * sends every query straight to `connection.execute()`. When the server ends that session
 * (pg_terminate_backend, idle_session_timeout, restart), src/connection.js `closed()` sets
 * `socket = null` and hands the Connection back to the pool as closed, but the reserved handle
 * still points at it. The next query on the handle runs `execute()` → `write()`, which defers
 * the send to `setImmediate(nextWrite)`; `nextWrite` calls `socket.write(...)` on null and throws
 * `TypeError: Cannot read properties of null (reading 'write')` from the immediate: no promise
 * rejects, no `.catch()` sees it, the process gets an uncaught exception (and the query never
 * settles). `release()` of such a handle is no better: it puts the dead Connection in the
 * pool's open queue, and the pool's next query on it throws the same TypeError. Nothing on
 * the public API tells a reserved handle that its session has gone.
 *
 * So a held session is its own one-connection client, built from the pool's parsed options
 * (as postgres.js builds its own LISTEN client): queries go through the client's queue, which
 * never writes to a closed socket, and its `onclose` tells us at once when the session ends.
 * At that moment the session is marked lost and the client is ended: every later query
 * rejects with CONNECTION_ENDED instead of reconnecting, so no statement of the job ever
 * runs on a new session that lacks the job's lock or the session settings.
 */

/** A database session of its own: one server backend for as long as it lives. */
export interface Session {
  /** Runs statements on this session only (a one-connection client); after it ended, every call rejects. */
  readonly sql: Sql;
  /** The server backend's pid. */
  readonly pid: number;
  /** application_name it shows in pg_stat_activity. */
  readonly name: string;
  /** Aborted the moment the session ends by itself (terminated, timeout, restart, network); not by close(). */
  readonly lost: AbortSignal;
  /** Ends the session (idempotent, never throws). */
  close(): Promise<void>;
}

export interface SessionOptions {
  /** Suffix of the application_name: `boosterz-db/daemon` + `refresh-job` → `boosterz-db/daemon:refresh-job`. */
  name?: string;
  /** LISTEN notifications of this session. */
  onNotify?: (channel: string, payload: string) => void;
}

/** The error of a session that has ended; carries the lost-connection marker the CLI maps to exit 5. */
export class SessionLostError extends Error {
  readonly code = 'CONNECTION_CLOSED';
  constructor(
    readonly pid: number,
    readonly sessionName: string,
  ) {
    super(
      `the database session ${sessionName} (pid ${pid}) ended (terminated by the server, an idle or other timeout, a restart, or the network)`,
    );
    this.name = 'SessionLostError';
  }
}

/**
 * Opens a dedicated session with the pool's connection settings (server, user, TLS) and the
 * tool's session settings (SESSION_SETTINGS: no server-side timeout ends it while it waits).
 */
export async function openSession(pool: Sql, o: SessionOptions = {}): Promise<Session> {
  const base = pool.options as unknown as Record<string, unknown> & { connection?: Record<string, unknown> };
  const given = base.connection?.application_name;
  const app = typeof given === 'string' ? given : 'boosterz-db';
  const name = o.name ? `${app}:${o.name}` : app;
  const lost = new AbortController();
  let closing = false;
  let pid = 0;
  let ended: Promise<void> | undefined;
  const end = () =>
    (ended ??= client.end({ timeout: 0 }).then(
      () => undefined,
      () => undefined,
    ));
  // `shared` in the options makes postgres() take them as already parsed (what its own listen() does)
  const client = postgres({
    ...base,
    max: 1,
    idle_timeout: null, // never ended by the client for idling or age while held
    max_lifetime: null,
    connection: { ...base.connection, application_name: name },
    onnotify: o.onNotify,
    onclose: () => {
      if (!closing && !lost.signal.aborted) lost.abort(new SessionLostError(pid, name));
      void end();
    },
  } as unknown as postgres.Options<Record<string, never>>) as unknown as Sql;
  try {
    await configureSession(client);
    const [row] = await client<{ pid: number }[]>`select pg_backend_pid() as pid`;
    pid = row.pid;
  } catch (err) {
    closing = true;
    await end();
    throw err;
  }
  return {
    sql: client,
    get pid() {
      return pid;
    },
    name,
    lost: lost.signal,
    close: async () => {
      closing = true;
      await end();
    },
  };
}

/** Runs fn on a session of its own and always ends it. */
export async function withSession<T>(pool: Sql, o: SessionOptions, fn: (s: Session) => Promise<T>): Promise<T> {
  const s = await openSession(pool, o);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/**
 * Holds one session of its own for fn (advisory locks, transactions, SET): a Session (above),
 * handed over with the reserved-connection type the engine is written against. A session that
 * dies makes every later statement reject (CONNECTION_ENDED: exit 5), never an uncaught error.
 */
export async function withReserved<T>(pool: Sql, fn: (conn: ReservedSql) => Promise<T>): Promise<T> {
  return withSession(pool, {}, (s) => fn(s.sql as unknown as ReservedSql));
}

import postgres from 'postgres';
import { refusedError } from '../errors.js';
import type { Sql } from './connection.js';

/** What a server is in its cluster: a primary (writes) or a hot standby (read-only, replaying WAL). */
export type ServerRole = 'primary' | 'standby';

/** The server's role now (pg_is_in_recovery()); a promoted standby answers `primary` at once. */
export async function serverRole(sql: Sql): Promise<ServerRole> {
  const [row] = await sql<{ standby: boolean }[]>`select pg_is_in_recovery() as standby`;
  return row.standby ? 'standby' : 'primary';
}

/** The refusal of a command that writes, on a hot standby (exit 6). */
export function standbyRefusal(command: string, where: string) {
  return refusedError(`${where} is a hot standby (read-only); connect to the primary to ${command}`, [
    'a standby replays the primary’s WAL and refuses every write: give the primary’s URL, or a multi-host URL with target_session_attrs=read-write',
  ]);
}

/** Pooling that shares one server session between client connections: session state (advisory locks, SET, LISTEN) is not ours. */
export type PoolingMode = 'transaction' | 'statement';

const one = (sql: Sql) => sql<{ pid: number }[]>`select pg_backend_pid() as pid`.then(([r]) => r.pid);

/**
 * Detects transaction or statement pooling from the client: on a direct connection, or through
 * session pooling, a client connection keeps its server backend for its whole life, and no
 * other client connection can ever get that backend. Through transaction pooling, the backend
 * goes back to the pool after each transaction: another client then gets it (PgBouncer reuses
 * the last released server connection first), or, while that other client holds a transaction
 * on it, our next transaction runs on another backend. Statement pooling refuses the
 * transaction block itself. Two one-connection clients of the given pool's settings, ended
 * before returning; never a false positive (a direct or session-pooled backend never moves).
 */
export async function detectPooling(pool: Sql): Promise<PoolingMode | undefined> {
  const base = pool.options as unknown as Record<string, unknown>;
  const mk = () => postgres({ ...base, max: 1, idle_timeout: null, max_lifetime: null } as never) as unknown as Sql;
  const a = mk();
  const b = mk();
  try {
    const first = await one(a);
    for (let round = 0; round < 3; round++) {
      // b holds a transaction: if it got a's backend, that backend was free for another client
      let held: number;
      try {
        held = await b.begin(async (tx) => {
          const pid = await one(tx as unknown as Sql);
          if (pid === first) return pid;
          const again = await one(a); // a's next transaction, while b holds a backend
          return again === first ? -1 : first;
        });
      } catch (err) {
        if (/statement pooling|transaction blocks not allowed/i.test(String((err as Error).message))) return 'statement';
        throw err;
      }
      if (held !== -1) return 'transaction';
    }
    return undefined;
  } finally {
    await Promise.all([a.end({ timeout: 1 }), b.end({ timeout: 1 })]).catch(() => undefined);
  }
}

/** The refusal of a command that needs its own sessions, through a transaction or statement pooler (exit 6). */
export function poolerRefusal(command: string, where: string, mode: PoolingMode, pgbouncer: boolean) {
  const who = pgbouncer
    ? `a connection pooler (PgBouncer-like: it refused the startup settings) in ${mode} pooling mode`
    : `a ${mode}-pooling proxy`;
  return refusedError(
    `${where} goes through ${who}; connect to the server directly, or through session pooling, to ${command}`,
    [
      `through ${mode} pooling the server backend changes between transactions of one connection (seen here), so session advisory locks, SET and LISTEN are meaningless`,
      'use the server’s own host and port, or a pool with pool_mode = session (PgBouncer); reports and status may run through it',
    ],
    { pooling: mode },
  );
}

import type { Sql, ReservedSql } from '../../db/connection.js';
import { withReserved } from '../../db/session.js';
import { LockKey, withAdvisoryLock } from '../../db/lock.js';
import { startHeartbeat } from '../../db/heartbeat.js';
import type { Emit } from './events.js';
import { loadMigrations, type MigrationFile } from './files.js';

/** What every migration command needs. */
export interface EngineOptions {
  migrationsDir: string;
  rollbackDir: string;
  emit: Emit;
  signal?: AbortSignal;
  /** How long to queue behind another run holding the migration lock (ms, default 0). */
  lockWaitMs?: number;
  /** Masked description of the database, for events. */
  database?: string;
  /** How long to wait for the session of a run that has gone (heartbeat stopped) to end by itself (ms, default 60 s). */
  orphanWaitMs?: number;
}

/** Default of EngineOptions.orphanWaitMs: the server ends such a session within seconds (client_connection_check_interval). */
export const ORPHAN_WAIT_MS = 60_000;

/**
 * Loads the files, then runs fn on a reserved connection holding the migration lock, with the
 * run's heartbeat beside it (db/heartbeat.ts) so that a rerun can tell a live run from a dead one.
 */
export async function withMigrationLock<T>(
  sql: Sql,
  o: EngineOptions,
  fn: (conn: ReservedSql, files: MigrationFile[]) => Promise<T>,
): Promise<T> {
  const files = await loadMigrations(o.migrationsDir, o.rollbackDir);
  return withReserved(sql, async (conn) => {
    const [{ pid }] = await conn<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const heartbeat = await startHeartbeat(sql, pid);
    try {
      return await withAdvisoryLock(
        conn,
        LockKey.migrations,
        o.lockWaitMs ?? 0,
        (holder) => o.emit({ type: 'lock:wait', holder }),
        () => fn(conn, files),
        o.signal,
        {
          waitMs: o.orphanWaitMs ?? ORPHAN_WAIT_MS,
          onOrphan: (holder, l, waitMs) =>
            o.emit({ type: 'lock:orphan', holder, query: l.query, runningMs: l.runningMs, phase: l.phase, pct: l.pct, waitMs }),
        },
      );
    } finally {
      await heartbeat.stop();
    }
  });
}

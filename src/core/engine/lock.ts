import type { Sql, ReservedSql } from '../../db/connection.js';
import { withReserved } from '../../db/session.js';
import { LockKey, withAdvisoryLock } from '../../db/lock.js';
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
}

/** Loads the files, then runs fn on a reserved connection holding the migration lock. */
export async function withMigrationLock<T>(
  sql: Sql,
  o: EngineOptions,
  fn: (conn: ReservedSql, files: MigrationFile[]) => Promise<T>,
): Promise<T> {
  const files = await loadMigrations(o.migrationsDir, o.rollbackDir);
  return withReserved(sql, (conn) =>
    withAdvisoryLock(
      conn,
      LockKey.migrations,
      o.lockWaitMs ?? 0,
      (holder) => o.emit({ type: 'lock:wait', holder }),
      () => fn(conn, files),
      o.signal,
    ),
  );
}

import type { Sql } from '../db/connection.js';
import { withTransaction } from '../db/sql.js';
import { withMigrationLock, type EngineOptions } from './engine/lock.js';
import { refusedError } from '../errors.js';
import { unknownVersion } from './engine/plan.js';
import { ensureHistory, readHistory, setState } from './engine/history.js';

export interface BaselineResult {
  version: number;
  versions: number[];
}

/**
 * Marks an existing database as being at `version` without running anything:
 * every migration up to it is recorded as baselined.
 */
export async function baseline(sql: Sql, o: EngineOptions & { version: number }): Promise<BaselineResult> {
  return withMigrationLock(sql, o, async (conn, files) => {
    const upTo = files.filter((f) => f.version <= o.version);
    if (!files.some((f) => f.version === o.version)) throw unknownVersion(`--version ${o.version}`, files);
    const history = await readHistory(conn);
    if (history.length) {
      throw refusedError(
        `this database already has a migration history (${history.length} row(s), up to version ${history[history.length - 1].version}): baseline is for a database that has none`,
        ['see `boosterz-db status`'],
      );
    }
    await withTransaction(conn, {}, async () => {
      await ensureHistory(conn, { allowExistingTables: true });
      for (const f of upTo)
        await setState(conn, { version: f.version, name: f.name, checksum: f.checksum, state: 'baselined', durationMs: 0, statements: 0 });
    });
    return { version: o.version, versions: upTo.map((f) => f.version) };
  });
}

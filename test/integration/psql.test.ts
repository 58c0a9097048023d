import { join } from 'node:path';
import { diffSnapshots, formatDiff, snapshot } from '../../src/core/checks/catalog.js';
import { applyLikePsql, hasPsql } from '../../src/core/bench/costs.js';
import { loadMigrations } from '../../src/core/engine/files.js';
import { runCli } from '../helpers/cli.js';
import { freshDatabase } from '../helpers/db.js';

const ROOT = process.cwd();
const SQL_DIR = join(ROOT, 'src/sql');

it('psql -v ON_ERROR_STOP=1 -f on each file gives the same schema as migrate, and the rollback scripts in reverse give it back empty', async () => {
  const viaTool = await freshDatabase('viatool');
  const viaPsql = await freshDatabase('viapsql');
  try {
    expect((await runCli(['-d', viaTool.url, 'migrate'])).code).toBe(0);
    const files = await loadMigrations(join(ROOT, 'migrations'), join(ROOT, 'rollback'));
    const psql = await hasPsql(); // without a psql client: each statement on its own in autocommit, as psql would send it
    const empty = await snapshot(viaPsql.sql, SQL_DIR);
    await applyLikePsql(viaPsql.url, viaPsql.sql, files, psql);
    expect(formatDiff(diffSnapshots(await snapshot(viaTool.sql, SQL_DIR), await snapshot(viaPsql.sql, SQL_DIR)))).toEqual([]);
    const rollbacks = [...files].reverse().map((f) => ({ ...f, path: f.rollbackPath, sql: f.rollbackSql }));
    await applyLikePsql(viaPsql.url, viaPsql.sql, rollbacks, psql);
    expect(formatDiff(diffSnapshots(empty, await snapshot(viaPsql.sql, SQL_DIR)))).toEqual([]);
  } finally {
    await viaTool.drop();
    await viaPsql.drop();
  }
}, 120_000);

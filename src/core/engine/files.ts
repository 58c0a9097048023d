import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { usageError } from '../../errors.js';

/** A versioned migration file and its rollback script. */
export interface MigrationFile {
  version: number;
  /** Description part of the file name, e.g. `missing_foreign_keys`. */
  name: string;
  fileName: string;
  path: string;
  rollbackPath: string;
  /** sha256 of the file with CRLF/CR line endings normalised to LF. */
  checksum: string;
  sql: string;
  rollbackSql: string;
}

const NAME = /^(\d{4,})_([A-Za-z0-9][A-Za-z0-9_-]*)\.sql$/;

/** sha256 hex of text with line endings normalised, so a CRLF checkout does not count as drift. */
export function checksum(text: string): string {
  return createHash('sha256').update(text.replace(/\r\n?/g, '\n'), 'utf8').digest('hex');
}

async function listSql(dir: string, what: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw usageError(`cannot read the ${what} folder ${dir} (${code ?? (err as Error).message}); point --${what}-dir at it`, [], err);
  }
}

/**
 * Reads migrations/ and rollback/. Enforces: every .sql file named NNNN_description.sql,
 * no duplicate version, no gap, one rollback script of the same name per migration.
 */
export async function loadMigrations(migrationsDir: string, rollbackDir: string): Promise<MigrationFile[]> {
  const files = await listSql(migrationsDir, 'migrations');
  const rollbacks = new Set(await listSql(rollbackDir, 'rollback'));
  const byVersion = new Map<number, string>();
  for (const f of files) {
    const m = NAME.exec(f);
    if (!m) throw usageError(`${join(migrationsDir, f)}: a migration file must be named NNNN_description.sql`);
    const v = Number(m[1]);
    const other = byVersion.get(v);
    if (other) throw usageError(`duplicate migration version ${v}: ${other} and ${f}`);
    byVersion.set(v, f);
  }
  const versions = [...byVersion.keys()].sort((a, b) => a - b);
  for (let i = 1; i < versions.length; i++) {
    if (versions[i] !== versions[i - 1] + 1) {
      throw usageError(`gap in migration versions: ${versions[i - 1]} is followed by ${versions[i]} in ${migrationsDir}`);
    }
  }
  for (const f of files) {
    if (!rollbacks.has(f)) throw usageError(`missing rollback script ${join(rollbackDir, f)} for migration ${f}`);
    rollbacks.delete(f);
  }
  if (rollbacks.size) {
    throw usageError(`rollback script without a migration: ${[...rollbacks].map((f) => join(rollbackDir, f)).join(', ')}`);
  }
  return Promise.all(
    versions.map(async (version) => {
      const fileName = byVersion.get(version)!;
      const path = join(migrationsDir, fileName);
      const rollbackPath = join(rollbackDir, fileName);
      const [sql, rollbackSql] = await Promise.all([readFile(path, 'utf8'), readFile(rollbackPath, 'utf8')]);
      return {
        version,
        name: NAME.exec(fileName)![2],
        fileName: basename(path),
        path,
        rollbackPath,
        checksum: checksum(sql),
        sql,
        rollbackSql,
      };
    }),
  );
}

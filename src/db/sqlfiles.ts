import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The .sql files shipped with the tool (src/sql/ in the package): the same path from src/db/
 * (tests) and from dist/db/ (the built CLI), both two levels below the package root.
 */
export const SQL_DIR = fileURLToPath(new URL('../../src/sql/', import.meta.url));

const cache = new Map<string, string>();

/** Reads a .sql file under `sqlDir` (normally SQL_DIR), cached: the one loader of the tool's SQL. */
export async function sqlFile(sqlDir: string, name: string): Promise<string> {
  const path = join(sqlDir, name);
  let text = cache.get(path);
  if (text === undefined) {
    text = await readFile(path, 'utf8');
    cache.set(path, text);
  }
  return text;
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const cache = new Map<string, string>();

/** Reads a .sql file shipped in src/sql (cached). */
export async function sqlFile(sqlDir: string, name: string): Promise<string> {
  const path = join(sqlDir, name);
  let text = cache.get(path);
  if (text === undefined) {
    text = await readFile(path, 'utf8');
    cache.set(path, text);
  }
  return text;
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What a migration set promises to create, read from `expected.json` next to the
 * migrations (optional): used by `check` and `verify`.
 */
export interface ExpectedObjects {
  foreignKeys?: { table: string; column: string; references: string }[];
  /** Indexes the migrations add on top of the first version (the baseline). */
  minAddedIndexes?: number;
  materializedViews?: string[];
  views?: string[];
  functions?: string[];
  triggers?: string[];
  /** Name → SQL (or statements) that must run without error; run in a transaction that is rolled back. */
  probes?: Record<string, string | string[]>;
}

export async function loadExpected(migrationsDir: string): Promise<ExpectedObjects | undefined> {
  try {
    return JSON.parse(await readFile(join(migrationsDir, 'expected.json'), 'utf8')) as ExpectedObjects;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${join(migrationsDir, 'expected.json')}: ${(err as Error).message}`);
  }
}

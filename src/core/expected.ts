import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Snapshot } from './catalog.js';

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
}

export async function loadExpected(migrationsDir: string): Promise<ExpectedObjects | undefined> {
  try {
    return JSON.parse(await readFile(join(migrationsDir, 'expected.json'), 'utf8')) as ExpectedObjects;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${join(migrationsDir, 'expected.json')}: ${(err as Error).message}`);
  }
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Problems of a catalog against the generic rules (no INVALID index, no NOT VALID constraint, matviews populated) and the expectations. */
export function checkCatalog(s: Snapshot, expected?: ExpectedObjects, baseline?: Snapshot): string[] {
  const problems: string[] = [];
  for (const [k, v] of s) {
    if (k.startsWith('index ') && v.endsWith('[INVALID]')) problems.push(`${k} is INVALID`);
    if (k.startsWith('constraint ') && v.endsWith('[NOT VALIDATED]')) problems.push(`${k} is NOT VALID`);
    if (k.startsWith('materialized view ') && v.endsWith('[NOT populated]')) problems.push(`${k} is not populated`);
  }
  if (!expected) return problems;
  const keys = [...s.keys()];
  for (const fk of expected.foreignKeys ?? []) {
    const re = new RegExp(`^FOREIGN KEY \\(${esc(fk.column)}\\) REFERENCES ${esc(fk.references)}\\(id\\)`);
    const hit = keys.find((k) => k.startsWith(`constraint public.${fk.table}.`) && re.test(s.get(k)!));
    if (!hit) problems.push(`foreign key ${fk.table}.${fk.column} → ${fk.references}(id) is missing`);
  }
  const has = (kind: string, name: string) => keys.some((k) => k === `${kind} public.${name}` || (kind === 'function' && k.startsWith(`function public.${name}(`)) || (kind === 'trigger' && k.startsWith('trigger public.') && k.endsWith(`.${name}`)));
  for (const v of expected.materializedViews ?? []) if (!has('materialized view', v)) problems.push(`materialized view ${v} is missing`);
  for (const v of expected.views ?? []) if (!has('view', v)) problems.push(`view ${v} is missing`);
  for (const f of expected.functions ?? []) if (!has('function', f)) problems.push(`function ${f} is missing`);
  for (const t of expected.triggers ?? []) if (!has('trigger', t)) problems.push(`trigger ${t} is missing`);
  if (expected.minAddedIndexes && baseline) {
    const added = keys.filter((k) => k.startsWith('index ') && !baseline.has(k)).length;
    if (added < expected.minAddedIndexes) problems.push(`only ${added} indexes added by the migrations, ${expected.minAddedIndexes} expected`);
  }
  return problems;
}

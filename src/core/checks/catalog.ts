import type { Sql, ReservedSql } from '../../db/connection.js';
import { sqlFile } from '../../db/sqlfiles.js';

/** key (`index public.cards_user_id_idx`) → definition, for every object of the app's schemas. */
export type Snapshot = Map<string, string>;

/** Reads the application's catalog: tables, columns, constraints with validation state, indexes with validity, views, matviews, functions with bodies, triggers. */
export async function snapshot(db: Sql | ReservedSql, sqlDir: string): Promise<Snapshot> {
  const rows = await db.unsafe<{ key: string; value: string }[]>(await sqlFile(sqlDir, 'catalog-snapshot.sql'));
  return new Map(rows.map((r) => [r.key, r.value]));
}

export interface SnapshotDiff {
  missing: string[];
  extra: string[];
  changed: { key: string; expected: string; actual: string }[];
}

export function diffSnapshots(expected: Snapshot, actual: Snapshot): SnapshotDiff {
  const d: SnapshotDiff = { missing: [], extra: [], changed: [] };
  for (const [k, v] of expected) {
    if (!actual.has(k)) d.missing.push(k);
    else if (actual.get(k) !== v) d.changed.push({ key: k, expected: v, actual: actual.get(k)! });
  }
  for (const k of actual.keys()) if (!expected.has(k)) d.extra.push(k);
  return d;
}

export const isEmptyDiff = (d: SnapshotDiff) => !d.missing.length && !d.extra.length && !d.changed.length;

const short = (v: string) => {
  const one = v.replace(/\s+/g, ' ').trim();
  return one.length > 140 ? `${one.slice(0, 137)}...` : one;
};

/** Readable lines: `- missing`, `+ left over`, `~ changed: expected → actual`. */
export function formatDiff(d: SnapshotDiff): string[] {
  return [
    ...d.missing.map((k) => `- ${k} (expected, missing)`),
    ...d.extra.map((k) => `+ ${k} (left over)`),
    ...d.changed.map((c) => `~ ${c.key}\n    expected: ${short(c.expected)}\n    actual:   ${short(c.actual)}`),
  ];
}

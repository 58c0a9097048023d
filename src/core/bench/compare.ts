import { isDeepStrictEqual } from 'node:util';
import type { WorkloadRow } from './workloads.js';

/** JSON-comparable form of result rows (Dates → ISO strings, bigint → string). */
export function normalise(rows: WorkloadRow[]): unknown[] {
  return JSON.parse(JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

/** The first difference between two result sets, or undefined when identical (order included). */
export function firstDifference(a: WorkloadRow[], b: WorkloadRow[]): string | undefined {
  const x = normalise(a);
  const y = normalise(b);
  if (x.length !== y.length) return `${x.length} rows vs ${y.length} rows`;
  for (let i = 0; i < x.length; i++) {
    if (!isDeepStrictEqual(x[i], y[i])) return `row ${i + 1}: ${JSON.stringify(x[i])} vs ${JSON.stringify(y[i])}`;
  }
  return undefined;
}

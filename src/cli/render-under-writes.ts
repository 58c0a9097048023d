import type { WorkloadResult } from '../core/bench/bench.js';
import type { UnderWritesResult } from '../core/bench/under-writes.js';
import type { WorkloadTiming } from '../core/bench/workloads.js';
import { table } from './render.js';

const ms = (v: number) => (v >= 100 ? `${Math.round(v)}` : v.toFixed(1));
/** `p50 / p95 / p99 ms`, or an empty cell. */
export const percentiles = (t?: WorkloadTiming) => (t ? `${ms(t.p50Ms)} / ${ms(t.p95Ms)} / ${ms(t.p99Ms)} ms` : '');

/**
 * The read workloads idle and under writes, before and after the migration (p50 / p95 / p99),
 * then the writes: their rate, their mix, the share by the users being read, the stale marks.
 */
export function renderUnderWrites(u: UnderWritesResult, idle: readonly WorkloadResult[]): string {
  const phase = (p: UnderWritesResult['before'], name: string) => p.workloads.find((w) => w.name === name)?.timing;
  const rows = u.before.workloads.map((w) => {
    const i = idle.find((x) => x.name === w.name);
    return [w.title, percentiles(i?.before), percentiles(w.timing), percentiles(i?.after), percentiles(phase(u.after, w.name))];
  });
  const t = table(
    ['workload (p50 / p95 / p99)', 'before, idle', 'before, under writes', 'after, fresh, idle', 'after, under writes'],
    rows,
  );
  const rate = (p: UnderWritesResult['before']) =>
    `${Math.round(p.writes.achievedPerSec)}/s for ${(p.writes.durationMs / 1000).toFixed(1)} s (${p.writes.writes} of ${p.writes.scheduled} scheduled, ${p.writes.writes ? Math.round((100 * p.writes.sameUser) / p.writes.writes) : 0}% by users being read${p.rounds > 1 ? `; the reads in ${p.rounds} rounds` : ''})`;
  const mix = Object.entries(u.mix)
    .map(([k, v]) => `${k.replace('_', ' ')} ${Math.round(v * 100)}%`)
    .join(', ');
  return [
    t,
    `under writes: ${u.writers} writer session(s), target ${u.targetPerSec} writes/s in total${u.targetPerSec === 0 ? ' (the control: nobody writes)' : ''}; achieved ${rate(u.before)} before, ${rate(u.after)} after`,
    `write mix: ${mix}; ${Math.round(u.sameUserShare * 100)}% of the writes by the users being read; stale marks pending when the writers stopped (after): ${u.after.staleMarks}`,
  ].join('\n');
}

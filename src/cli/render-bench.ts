import type { BenchResult } from '../core/bench/bench.js';
import { formatMs } from './output.js';
import { formatBytes, table } from './render.js';
import { renderUnderWrites } from './render-under-writes.js';

const ms = (v: number) => (v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`);

/** The before/after table, with the guide's targets. */
export function renderBench(r: BenchResult): string {
  const lines = [
    table(
      ['workload', 'before p50 / p95', 'after p50 / p95', 'speedup', 'reduction', 'guide target', 'met'],
      r.workloads.map((w) => [
        w.title,
        `${ms(w.before.p50Ms)} / ${ms(w.before.p95Ms)}`,
        `${ms(w.after.p50Ms)} / ${ms(w.after.p95Ms)}`,
        `×${w.speedup.toFixed(1)}`,
        `-${w.reductionPct.toFixed(0)}%`,
        w.guide.beforeMs !== undefined
          ? `-${w.guide.reductionPct}% (${w.guide.beforeMs} → ${w.guide.targetMs} ms)`
          : `-${w.guide.reductionPct}%`,
        w.met ? 'yes' : 'no',
      ]),
    ),
  ];
  if (r.underWrites) lines.push(renderUnderWrites(r.underWrites, r.workloads));
  lines.push(
    `data: scale ${r.scale}, ${r.data.totalRows.toLocaleString('en-US')} rows, ${formatBytes(r.data.databaseBytes)}, generated in ${formatMs(r.data.generateMs)}; ${r.runs} runs per workload and variant; PostgreSQL ${r.postgres}`,
  );
  lines.push(
    `migrate: ${r.migrate.statements} statements in ${formatMs(r.migrate.ms)} (${r.migrate.orphansDetached} orphan references detached)`,
  );
  if (r.floor)
    lines.push(
      `migrate vs its floor (${r.floor.method}): ${formatMs(r.floor.migrateMs)} vs ${formatMs(r.floor.floorMs)} = ×${r.floor.ratio.toFixed(2)}`,
    );
  for (const t of r.triggers ?? [])
    lines.push(
      `freshness trigger cost, ${t.writers} writer(s), ${t.state === 'steady' ? 'marks in place' : 'marks just cleared by a refresh'}: ${Math.round(t.withPerSec)} vs ${Math.round(t.withoutPerSec)} single-row inserts/s into cards with / without it (medians of ${t.blocks} rounds of ${formatMs(t.blockMs)} blocks) = ${(t.ratio * 100).toFixed(0)}% of the throughput kept; an empty PL/pgSQL row trigger in its place keeps ${(t.emptyRatio * 100).toFixed(0)}%`,
    );
  lines.push(
    `answers: every optimized answer equals the plain query's (${r.workloads.reduce((n, w) => n + w.identicalAnswers, 0)} parameter sets compared)`,
  );
  return lines.join('\n');
}

import type { PlanEstimate } from '../core/engine/plan-estimates.js';
import { median, relativeError } from '../core/engine/estimates.js';
import { formatMs } from './output.js';
import { table } from './render.js';

/** A statement's estimate next to what it took. */
export interface EstimateVsActual {
  n: number;
  statement: string;
  estimateMs: number;
  actualMs: number;
}

/** The dry run's totals: one at a time, with --parallel N, and against the window. */
export function renderEstimateTotals(e: PlanEstimate, deadline?: number): string {
  const lines = [`estimated: ${formatMs(e.oneAtATimeMs)} one at a time`];
  if (e.parallel > 1) lines[0] += `, ${formatMs(e.parallelMs)} with --parallel ${e.parallel}`;
  if (deadline !== undefined) {
    const left = deadline - Date.now();
    const need = e.parallel > 1 ? e.parallelMs : e.oneAtATimeMs;
    lines.push(
      need <= left
        ? `window: ${formatMs(left)} left, the run fits`
        : `window: ${formatMs(left)} left, the run does not fit: it would stop with exit 7 and resume in the next window`,
    );
  }
  return lines.join('\n');
}

/** The summary's estimate against actual per statement, with the median and worst error. */
export function renderEstimates(rows: EstimateVsActual[]): string {
  if (!rows.length) return '';
  const errs = rows.map((r) => relativeError(r.estimateMs, r.actualMs));
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const t = table(
    ['#', 'statement', 'estimate', 'actual', 'error'],
    rows.map((r, i) => [r.n, r.statement, formatMs(r.estimateMs), formatMs(r.actualMs), pct(errs[i])]),
  );
  return `${t}\nestimate error: median ${pct(median(errs)!)}, worst ${pct(Math.max(...errs))}`;
}

import type { Estimator } from './estimator.js';
import { isTransactional } from './runner.js';
import { simulate } from './schedule.js';
import type { Script } from './types.js';
import { jobOf } from './window.js';

/** The estimated time of scripts one at a time and with `parallel` builds side by side. */
export interface PlanEstimate {
  /** Per statement, in plan order. */
  statements: { version: number; index: number; ms: number; source: string }[];
  oneAtATimeMs: number;
  parallel: number;
  parallelMs: number;
}

/** Time of scripts run in order; statement-by-statement ones scheduled with `parallel` builds side by side. */
export function scriptsMs(scripts: Script[], estimator: Estimator, parallel: number): number {
  let ms = 0;
  for (const s of scripts) {
    const jobs = s.statements.map((st) => jobOf(st, estimator.estimate(st).ms));
    ms += isTransactional(s)
      ? jobs.reduce((n, j) => n + j.estimateMs, 0)
      : simulate(jobs, parallel, { cores: estimator.cores, slowdown: estimator.slowdown });
  }
  return ms;
}

export function planEstimate(scripts: Script[], estimator: Estimator, parallel: number): PlanEstimate {
  return {
    statements: scripts.flatMap((s) =>
      s.statements.map((st) => {
        const e = estimator.estimate(st);
        return { version: s.version, index: st.index, ms: e.ms, source: e.source };
      }),
    ),
    oneAtATimeMs: scriptsMs(scripts, estimator, 1),
    parallel,
    parallelMs: scriptsMs(scripts, estimator, parallel),
  };
}

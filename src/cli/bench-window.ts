import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { windowSuite, type WindowSuiteResult } from '../core/bench/window-suite.js';
import { migrationDirs, type CommandContext } from './context.js';
import { formatMs } from './output.js';
import { table } from './render.js';
import { throwawayDatabase } from './throwaway.js';

/** The table of `bench --window-suite` (also the README's). */
export function renderWindowSuite(r: WindowSuiteResult): string {
  const pct = (e?: { medianPct: number; worstPct: number; statements: number }) =>
    e ? `${e.medianPct}% / ${e.worstPct}% (${e.statements})` : '';
  const t = table(
    [
      'method',
      'wall time (median round)',
      '× floor',
      'each round',
      'estimated before',
      'build estimate error median / worst',
      'all statements median / worst',
    ],
    r.runs.map((x) => [
      x.method,
      formatMs(x.ms),
      x.ratio ? `×${x.ratio.toFixed(2)}` : '×1.00',
      (x.roundsMs ?? []).map((ms, i) => `${formatMs(ms)} ×${(x.roundRatios?.[i] ?? 1).toFixed(2)}`).join(', '),
      x.estimatedMs ? formatMs(x.estimatedMs) : '',
      pct(x.buildErrors),
      pct(x.allErrors),
    ]),
  );
  return `${t}\n${r.rounds} round(s); ${r.statements} statements, PostgreSQL ${r.postgres}, scale ${r.scale}, ${r.machine.cpus} CPU ${r.machine.cpuModel}, load before ${r.machine.loadBefore.join(' ')}`;
}

/** `bench --window-suite`: on a throwaway database, the floor and migrate one at a time and side by side. */
export async function runWindowSuite(ctx: CommandContext, o: { scale: number; seed: number; rounds: number; out?: string }): Promise<void> {
  const { sql, url } = await throwawayDatabase(ctx, 'benchwindow');
  const r = await windowSuite(sql, {
    ...migrationDirs(ctx),
    sqlDir: join(ctx.packageRoot, 'src/sql'),
    scale: o.scale,
    seed: o.seed,
    rounds: o.rounds,
    url,
    signal: ctx.signal,
    emit: () => undefined,
    onPhase: (t) => ctx.out.info(t),
  });
  if (o.out) {
    const path = resolve(o.out);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${JSON.stringify(r, null, 2)}\n`);
    ctx.out.info(`results written to ${path}`);
  }
  if (ctx.out.json) ctx.out.jsonLine(r);
  else ctx.out.result(renderWindowSuite(r));
}

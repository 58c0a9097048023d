import type { Command } from 'commander';
import { Option } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { bench } from '../../core/bench/bench.js';
import { intArg, numberArg, scaleArg, shareArg, writeMixArg } from '../args.js';
import { DEFAULT_MIX, type WriteMix } from '../../core/bench/write-schedule.js';
import { migrationDirs, type CommandContext, type RunCommand } from '../context.js';
import { formatMs } from '../output.js';
import { ProgressRenderer } from '../progress.js';
import { renderBench } from '../render-bench.js';
import { throwawayDatabase } from '../throwaway.js';
import { runWindowSuite } from '../bench-window.js';

export interface BenchFlags {
  scale: number;
  seed: number;
  runs: number;
  floor: boolean;
  triggerCost: boolean;
  underWrites: boolean;
  writers: number;
  writeRate: number;
  sameUserShare: number;
  writeMix: WriteMix;
  out?: string;
  windowSuite?: boolean;
  rounds: number;
}

export async function runBench(ctx: CommandContext, o: BenchFlags) {
  // 8 concurrent writers for the trigger cost, and a session beside them (the under-writes writers have sessions of their own)
  const { sql } = await throwawayDatabase(ctx, 'bench', { max: 10 });
  const progress = new ProgressRenderer(ctx.out);
  const r = await bench(sql, {
    ...migrationDirs(ctx),
    sqlDir: join(ctx.packageRoot, 'src/sql'),
    scale: o.scale,
    seed: o.seed,
    runs: o.runs,
    signal: ctx.signal,
    emit: ctx.out.json ? () => undefined : progress.handle,
    onPhase: (t) => ctx.out.info(t),
    onGenerate: (s) =>
      ctx.out.info(`  [${s.index + 1}/${s.total}] ${s.table}: ${s.rows.toLocaleString('en-US')} rows in ${formatMs(s.ms)}`),
    floorDatabase: o.floor ? () => throwawayDatabase(ctx, 'benchfloor') : undefined,
    triggerCost: o.triggerCost,
    underWrites: o.underWrites
      ? { writers: o.writers, ratePerSec: o.writeRate, sameUserShare: o.sameUserShare, mix: o.writeMix }
      : undefined,
  }).finally(() => progress.pause());
  if (o.out) {
    const path = resolve(o.out);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${JSON.stringify(r, null, 2)}\n`);
    ctx.out.info(`results written to ${path}`);
  }
  return r;
}

export function register(cmd: Command, run: RunCommand): void {
  cmd
    .addOption(new Option('--scale <s>', 'data size: 1 ≈ 20k users, 2M cards, 8.5M rows').default(0.05).argParser(scaleArg('--scale')))
    .addOption(new Option('--seed <n>', 'same seed, same data').default(1).argParser(intArg('--seed', 0)))
    .addOption(new Option('--runs <n>', 'measured runs per workload and variant').default(50).argParser(intArg('--runs', 1)))
    .option('--no-floor', 'skip migrate vs psql -f on a second database with the same data')
    .option('--no-trigger-cost', 'skip the insert throughput with / without the freshness trigger')
    .option('--no-under-writes', 'skip the read workloads measured again while other sessions write')
    .addOption(new Option('--writers <n>', 'under writes: concurrent writer sessions').default(4).argParser(intArg('--writers', 1)))
    .addOption(
      new Option('--write-rate <n>', 'under writes: writes per second, all writers together (0: the control, nobody writes)')
        .default(200)
        .argParser(numberArg('--write-rate')),
    )
    .addOption(
      new Option('--same-user-share <f>', 'under writes: share of the writes done by the users being read (0 to 1)')
        .default(0.5)
        .argParser(shareArg('--same-user-share')),
    )
    .addOption(
      new Option(
        '--write-mix <kind=weight,...>',
        'under writes: the share of each kind of write (card_insert, card_update, like, message, follow; weights scaled to sum to 1, a kind left out is not written)',
      )
        .default(
          DEFAULT_MIX,
          Object.entries(DEFAULT_MIX)
            .map(([k, v]) => `${k}=${v * 100}`)
            .join(','),
        )
        .argParser(writeMixArg('--write-mix')),
    )
    .option('--out <file>', 'also write the full JSON result to this file (e.g. bench/results/scale-1.json)')
    .addOption(
      new Option('--rounds <n>', '--window-suite: rounds of every method, the figure being its median round')
        .default(3)
        .argParser(intArg('--rounds', 1)),
    )
    .option(
      '--window-suite',
      'instead: psql -f (the floor), migrate, migrate --parallel 2 and 4 on the same data; wall times and estimate errors',
    )
    .action((o: BenchFlags) =>
      run(async (ctx) => {
        if (o.windowSuite) return runWindowSuite(ctx, o);
        const r = await runBench(ctx, o);
        if (ctx.out.json) ctx.out.jsonLine(r);
        else ctx.out.result(renderBench(r));
      }),
    );
}

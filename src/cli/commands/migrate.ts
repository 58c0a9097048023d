import type { Command } from 'commander';
import { Option } from 'commander';
import { migrate } from '../../core/migrate.js';
import { connect, migrationDirs } from '../context.js';
import { intArg, numberArg, type RunCommand } from '../main.js';
import { ProgressRenderer } from '../progress.js';
import { renderPlan, renderSummary } from '../render.js';

export function register(cmd: Command, run: RunCommand): void {
  cmd
    .option('--to <version>', 'apply up to this version (inclusive)', intArg('--to', 1))
    .option('--dry-run', 'print the plan and change nothing')
    .option('--yes', 'go on despite pre-flight warnings that need a human')
    .option('--no-lint', 'do not refuse pending migrations that break a lint rule')
    .addOption(new Option('--lock-wait <seconds>', 'wait this long for another run holding the migration lock').default(0).argParser(numberArg('--lock-wait')))
    .action((opts: { to?: number; dryRun?: boolean; lockWait: number; lint: boolean }) =>
      run(async (ctx) => {
        const progress = new ProgressRenderer(ctx.out);
        const { sql, where } = await connect(ctx, 'migrate', (m) => progress.handle({ type: 'notice', message: m }));
        const r = await migrate(sql, {
          ...migrationDirs(ctx), emit: progress.handle, signal: ctx.signal, lockWaitMs: opts.lockWait * 1000, database: where, to: opts.to, dryRun: opts.dryRun, lint: opts.lint,
        }).finally(() => progress.pause());
        if (ctx.out.json) {
          ctx.out.jsonLine({ type: 'summary', runId: progress.runId, ok: true, dryRun: r.dryRun, versions: r.versions, migrations: r.migrations, ...(r.dryRun ? { plan: r.plan } : {}), totalMs: r.totalMs });
        } else if (r.dryRun) {
          ctx.out.result(renderPlan(r.plan));
        } else if (r.migrations.length) {
          ctx.out.result(renderSummary(r.migrations, r.totalMs, progress.slowest));
        } else {
          ctx.out.result('nothing to do: every migration is applied');
        }
      }),
    );
}

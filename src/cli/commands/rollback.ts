import type { Command } from 'commander';
import { Option } from 'commander';
import { createInterface } from 'node:readline/promises';
import { planRollback, rollback } from '../../core/rollback.js';
import { refusedError } from '../../errors.js';
import { addLockOptions, intArg, type LockFlags } from '../args.js';
import { connect, migrationDirs, type RunCommand } from '../context.js';
import { ProgressRenderer } from '../progress.js';
import { renderPlan, renderSummary } from '../render.js';

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export function register(cmd: Command, run: RunCommand): void {
  cmd
    .addOption(
      new Option('--to <version>', 'roll back every migration above this version (0: all)').argParser(intArg('--to', 0)).conflicts('steps'),
    )
    .addOption(new Option('--steps <n>', 'roll back the newest N migrations (default 1)').argParser(intArg('--steps', 1)))
    .option('--dry-run', 'print the plan and change nothing')
    .option('--yes', 'do not ask for confirmation (required off a TTY)');
  addLockOptions(cmd).action((opts: { to?: number; steps?: number; dryRun?: boolean; yes?: boolean } & LockFlags) =>
    run(async (ctx) => {
      const progress = new ProgressRenderer(ctx.out);
      const { sql, where } = await connect(ctx, 'rollback', (m) => progress.handle({ type: 'notice', message: m }), 'write');
      const base = {
        ...migrationDirs(ctx),
        emit: progress.handle,
        signal: ctx.signal,
        lockWaitMs: opts.lockWait,
        lockTimeoutMs: opts.lockTimeout,
        lockRetries: opts.lockRetries,
        database: where,
        to: opts.to,
        steps: opts.steps,
      };
      const plan = await planRollback(sql, base);
      if (opts.dryRun || !plan.versions.length) {
        if (ctx.out.json)
          ctx.out.jsonLine({
            type: 'summary',
            runId: progress.runId,
            ok: true,
            dryRun: !!opts.dryRun,
            versions: plan.versions,
            plan: plan.plan,
          });
        else ctx.out.result(plan.versions.length ? renderPlan(plan.plan) : 'nothing to roll back');
        return;
      }
      if (!opts.yes) {
        const what = `roll back version(s) ${plan.versions.join(', ')} on ${where}`;
        if (!process.stdin.isTTY || ctx.out.json) throw refusedError(`rollback needs confirmation: pass --yes to ${what}`);
        if (!(await confirm(`${what}? [y/N] `).catch(() => false))) throw refusedError('rollback not confirmed: nothing was changed');
      }
      // under the lock, the plan must still be the one shown (a migrate may have run meanwhile)
      const r = await rollback(sql, { ...base, expectVersions: plan.versions }).finally(() => progress.pause());
      if (ctx.out.json)
        ctx.out.jsonLine({
          type: 'summary',
          runId: progress.runId,
          ok: true,
          dryRun: false,
          versions: r.versions,
          migrations: r.migrations,
          totalMs: r.totalMs,
        });
      else ctx.out.result(renderSummary(r.migrations, r.totalMs, progress.slowest));
    }),
  );
}

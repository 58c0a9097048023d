import type { Command } from 'commander';
import { ExitCode } from '../../errors.js';
import chalk from 'chalk';
import { join } from 'node:path';
import { check } from '../../core/checks/check.js';
import { migrationDirs, type RunCommand } from '../context.js';
import { formatMs } from '../output.js';
import { ProgressRenderer } from '../progress.js';
import { throwawayDatabase } from '../throwaway.js';

export function register(cmd: Command, run: RunCommand): void {
  cmd.action(() =>
    run(async (ctx) => {
      const { sql, where } = await throwawayDatabase(ctx, 'check');
      ctx.out.info(`check on ${where}`);
      const progress = new ProgressRenderer(ctx.out);
      const quietEvents = ctx.flags.verbose && !ctx.out.json ? progress.handle : () => undefined;
      const r = await check(sql, {
        ...migrationDirs(ctx),
        sqlDir: join(ctx.packageRoot, 'src/sql'),
        emit: quietEvents,
        signal: ctx.signal,
        database: where,
        onStep: (s) => {
          if (ctx.out.json) return;
          ctx.out.info(`${s.ok ? chalk.green('✓') : chalk.red('✗')} ${s.name} ${chalk.dim(formatMs(s.ms))}`);
          for (const p of s.problems) ctx.out.info(`    ${p}`);
        },
      }).finally(() => progress.pause());
      if (ctx.out.json) ctx.out.jsonLine(r);
      else
        ctx.out.result(
          r.ok
            ? 'check passed'
            : `check failed: ${r.steps
                .filter((s) => !s.ok)
                .map((s) => s.name)
                .join('; ')}`,
        );
      return r.ok ? ExitCode.ok : ExitCode.checkFailed;
    }),
  );
}

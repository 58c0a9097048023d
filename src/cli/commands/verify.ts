import type { Command } from 'commander';
import { ExitCode } from '../../errors.js';
import chalk from 'chalk';
import { join } from 'node:path';
import { verify } from '../../core/checks/verify.js';
import { connect, migrationDirs, type RunCommand } from '../context.js';

export function register(cmd: Command, run: RunCommand): void {
  cmd.action(() =>
    run(async (ctx) => {
      const { sql, where } = await connect(ctx, 'verify');
      const checks = await verify(sql, { ...migrationDirs(ctx), sqlDir: join(ctx.packageRoot, 'src/sql') });
      const ok = checks.every((c) => c.ok);
      if (ctx.out.json) ctx.out.jsonLine({ ok, database: where, checks });
      else {
        for (const c of checks)
          ctx.out.result(`${c.ok ? chalk.green('✓') : chalk.red('✗')} ${c.name}${c.detail ? chalk.dim(` — ${c.detail}`) : ''}`);
        ctx.out.result(
          ok ? `all ${checks.length} checks passed` : `${checks.filter((c) => !c.ok).length} of ${checks.length} checks failed`,
        );
      }
      return ok ? ExitCode.ok : ExitCode.checkFailed;
    }),
  );
}

import type { Command } from 'commander';
import { ExitCode } from '../../errors.js';
import chalk from 'chalk';
import { join } from 'node:path';
import { verify } from '../../core/checks/verify.js';
import { connect, migrationDirs, type RunCommand } from '../context.js';

export function register(cmd: Command, run: RunCommand): void {
  cmd.action(() =>
    run(async (ctx) => {
      const { sql, where, role } = await connect(ctx, 'verify');
      const standby = role === 'standby';
      if (standby) ctx.out.info(`${where} is a hot standby: the checks read what it has replayed; probes that write are skipped`);
      const checks = await verify(sql, { ...migrationDirs(ctx), sqlDir: join(ctx.packageRoot, 'src/sql'), standby });
      const ok = checks.every((c) => c.ok);
      if (ctx.out.json) ctx.out.jsonLine({ ok, database: where, role, checks });
      else {
        for (const c of checks)
          ctx.out.result(
            `${c.skipped ? chalk.yellow('-') : c.ok ? chalk.green('✓') : chalk.red('✗')} ${c.name}${c.detail ? chalk.dim(` — ${c.detail}`) : ''}`,
          );
        ctx.out.result(
          ok ? `all ${checks.length} checks passed` : `${checks.filter((c) => !c.ok).length} of ${checks.length} checks failed`,
        );
      }
      return ok ? ExitCode.ok : ExitCode.checkFailed;
    }),
  );
}

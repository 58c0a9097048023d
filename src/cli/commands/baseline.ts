import type { Command } from 'commander';
import { baseline } from '../../core/baseline.js';
import { intArg } from '../args.js';
import { connect, migrationDirs, type RunCommand } from '../context.js';
import { ProgressRenderer } from '../progress.js';

export function register(cmd: Command, run: RunCommand): void {
  cmd
    .requiredOption('--version <version>', 'the version the existing schema already is at (Boosterz production: 1)', intArg('--version', 1))
    .action((opts: { version: number }) =>
      run(async (ctx) => {
        const progress = new ProgressRenderer(ctx.out);
        const { sql, where } = await connect(ctx, 'baseline', undefined, 'write');
        const r = await baseline(sql, {
          ...migrationDirs(ctx),
          emit: progress.handle,
          signal: ctx.signal,
          database: where,
          version: opts.version,
        });
        if (ctx.out.json) ctx.out.jsonLine({ ok: true, ...r });
        else ctx.out.result(`baselined ${where} at version ${r.version} (recorded: ${r.versions.join(', ')}); nothing was run`);
      }),
    );
}

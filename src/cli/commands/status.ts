import type { Command } from 'commander';
import chalk from 'chalk';
import { needsBaselineMessage } from '../../core/engine/history.js';
import { status } from '../../core/status.js';
import { connect, migrationDirs, type RunCommand } from '../context.js';
import { formatMs } from '../output.js';
import { table } from '../render.js';

const colour: Record<string, (s: string) => string> = {
  applied: chalk.green,
  baselined: chalk.green,
  pending: chalk.cyan,
  partial: chalk.yellow,
  rolling_back: chalk.yellow,
  failed: chalk.red,
  'missing-file': chalk.red,
};

export function register(cmd: Command, run: RunCommand): void {
  cmd.action(() =>
    run(async (ctx) => {
      const { sql, where, role } = await connect(ctx, 'status');
      const s = await status(sql, migrationDirs(ctx));
      if (role === 'standby') ctx.out.info(`${where} is a hot standby: this is the history it has replayed from the primary`);
      if (ctx.out.json) {
        ctx.out.jsonLine({ database: where, role, ...s });
        return;
      }
      const rows = s.lines.map((l) => {
        let state = (colour[l.state] ?? String)(
          l.state === 'partial' ? 'stopped part-way' : l.state === 'rolling_back' ? 'rollback stopped part-way' : l.state,
        );
        if (l.progress) state += ` (${l.progress.done}/${l.progress.total} statements done; rerun to resume)`;
        if (l.drift)
          state += chalk.red(
            l.fileChecksum ? ` DRIFT: file ${l.fileChecksum.slice(0, 12)} ≠ applied ${l.checksum?.slice(0, 12)}` : ' DRIFT: file missing',
          );
        if (l.state === 'failed' && l.error) state += ` — ${l.error}`;
        return [
          String(l.version).padStart(4, '0'),
          l.name,
          state,
          l.appliedAt ? l.appliedAt.toISOString() : '',
          l.appliedBy ?? '',
          l.durationMs != null ? formatMs(l.durationMs) : '',
          (l.checksum ?? l.fileChecksum ?? '').slice(0, 12),
        ];
      });
      ctx.out.result(`database: ${where}`);
      if (s.needsBaseline) ctx.out.result(chalk.yellow(needsBaselineMessage()));
      ctx.out.result(`current version: ${s.current ?? 'none'}`);
      ctx.out.result(table(['version', 'name', 'state', 'applied at', 'by', 'took', 'checksum'], rows));
    }),
  );
}

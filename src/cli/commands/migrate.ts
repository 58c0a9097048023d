import type { Command } from 'commander';
import { Option } from 'commander';
import { migrate } from '../../core/migrate.js';
import { addLockOptions, durationArg, intArg, addLagOption, type LockFlags } from '../args.js';
import { connect, migrationDirs, type RunCommand } from '../context.js';
import { ProgressRenderer } from '../progress.js';
import { formatBytes, renderPlan, renderSummary } from '../render.js';
import { TOOL_SCHEMA } from '../../db/sql.js';

interface MigrateFlags extends LockFlags {
  to?: number;
  dryRun?: boolean;
  yes?: boolean;
  lint: boolean;
  blockerWarn: number;
  maxTransactionAge: number;
  orphans?: 'detach';
  maxReplicaLag: { ms: number } | { bytes: number } | null;
}

export function register(cmd: Command, run: RunCommand): void {
  cmd
    .option('--to <version>', 'apply up to this version (inclusive)', intArg('--to', 1))
    .option('--dry-run', 'print the plan (statements, transactionality, target tables with size and rows) and change nothing')
    .option('--yes', 'go on although transactions older than --max-transaction-age could block the run')
    .addOption(
      new Option('--max-transaction-age <duration>', 'a transaction open longer than this stops the run unless --yes')
        .default(300_000, '5m')
        .argParser(durationArg('--max-transaction-age')),
    )
    .option('--no-lint', 'do not refuse pending migrations that break a lint rule');
  addLagOption(cmd, 'each statement');
  addLockOptions(cmd)
    .addOption(
      new Option('--blocker-warn <duration>', 'say who an index build waits for after this long')
        .default(30_000, '30s')
        .argParser(durationArg('--blocker-warn')),
    )
    .addOption(
      new Option('--orphans <mode>', `detach: save orphan foreign-key values in ${TOOL_SCHEMA}.orphan_audit and set them to NULL`).choices([
        'detach',
      ]),
    )
    .action((opts: MigrateFlags) =>
      run(async (ctx) => {
        const progress = new ProgressRenderer(ctx.out);
        const { sql, where } = await connect(ctx, 'migrate', (m) => progress.handle({ type: 'notice', message: m }), 'write');
        const r = await migrate(sql, {
          ...migrationDirs(ctx),
          emit: progress.handle,
          signal: ctx.signal,
          database: where,
          to: opts.to,
          dryRun: opts.dryRun,
          lint: opts.lint,
          yes: opts.yes,
          orphans: opts.orphans ?? 'refuse',
          lockWaitMs: opts.lockWait,
          lockTimeoutMs: opts.lockTimeout,
          lockRetries: opts.lockRetries,
          blockerWarnMs: opts.blockerWarn,
          maxTransactionAgeMs: opts.maxTransactionAge,
          maxReplicaLag: opts.maxReplicaLag,
        }).finally(() => progress.pause());
        if (ctx.out.json) {
          ctx.out.jsonLine({
            type: 'summary',
            runId: progress.runId,
            ok: true,
            dryRun: r.dryRun,
            versions: r.versions,
            migrations: r.migrations,
            slowest: progress.topSlowest(),
            ...(r.dryRun ? { plan: r.plan, tables: r.tables, sessions: r.sessions, orphans: r.orphans, writers: r.writers } : {}),
            totalMs: r.totalMs,
          });
        } else if (r.dryRun) {
          progress.preflight(r.sessions, r.orphans, r.writers);
          ctx.out.result(
            renderPlan(r.plan, (l) => {
              const t = l.table ? r.tables?.[l.table] : undefined;
              return t ? [formatBytes(t.bytes), t.rows.toLocaleString('en-US')] : ['', ''];
            }),
          );
        } else if (r.migrations.length) {
          ctx.out.result(renderSummary(r.migrations, r.totalMs, progress.slowest));
        } else {
          ctx.out.result('nothing to do: every migration is applied');
        }
      }),
    );
}

import type { Command } from 'commander';
import { Option } from 'commander';
import { migrate } from '../../core/migrate.js';
import { addLockOptions, durationArg, intArg, addLagOption, sizeArg, untilArg, type LockFlags } from '../args.js';
import { connect, migrationDirs, type RunCommand } from '../context.js';
import { ProgressRenderer } from '../progress.js';
import { formatMs } from '../output.js';
import { formatBytes, renderPlan, renderSummary } from '../render.js';
import { TOOL_SCHEMA } from '../../db/sql.js';
import { renderEstimates, renderEstimateTotals } from '../render-estimates.js';
import { usageError } from '../../errors.js';
import { join } from 'node:path';

interface MigrateFlags extends LockFlags {
  to?: number;
  dryRun?: boolean;
  yes?: boolean;
  lint: boolean;
  blockerWarn: number;
  maxTransactionAge: number;
  orphans?: 'detach';
  maxReplicaLag: { ms: number } | { bytes: number } | null;
  parallel: number;
  window?: number;
  until?: number;
  serverMemory?: number;
  serverCpus?: number;
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
    .option('--no-lint', 'do not refuse pending migrations that break a lint rule')
    .addOption(
      new Option('--parallel <n>', 'CREATE INDEX CONCURRENTLY builds side by side (on different tables, each on its own session)')
        .default(1)
        .argParser(intArg('--parallel', 1, 64)),
    )
    .addOption(
      new Option('--window <duration>', 'start no statement that cannot finish within this time (e.g. 2h); exit 7').argParser(
        durationArg('--window'),
      ),
    )
    .addOption(
      new Option('--until <time>', 'start no statement that cannot finish by then (04:00, 04:00Z, "04:00 Europe/Paris"); exit 7').argParser(
        untilArg('--until'),
      ),
    )
    .addOption(
      new Option(
        '--server-memory <size>',
        "the server's memory, for the --parallel check when it is not on this machine (e.g. 64GB)",
      ).argParser(sizeArg('--server-memory')),
    )
    .addOption(
      new Option(
        '--server-cpus <n>',
        "the server's CPU cores when it is not on this machine: --parallel builds then take no more cores than it has",
      ).argParser(intArg('--server-cpus', 1)),
    );
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
        if (opts.window !== undefined && opts.until !== undefined) throw usageError('--window and --until: give one of them');
        const deadline = opts.window !== undefined ? Date.now() + opts.window : opts.until;
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
          parallel: opts.parallel,
          deadline,
          serverMemoryBytes: opts.serverMemory,
          serverCpus: opts.serverCpus,
          sqlDir: join(ctx.packageRoot, 'src/sql'),
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
            ...(r.dryRun
              ? { plan: r.plan, tables: r.tables, sessions: r.sessions, orphans: r.orphans, writers: r.writers, estimates: r.estimates }
              : { statements: progress.estimateVsActual() }),
            totalMs: r.totalMs,
          });
        } else if (r.dryRun) {
          progress.preflight(r.sessions, r.orphans, r.writers);
          const est = new Map(r.estimates?.statements.map((e) => [`${e.version}:${e.index}`, e]));
          ctx.out.result(
            renderPlan(r.plan, (l) => {
              const t = l.table ? r.tables?.[l.table] : undefined;
              const e = est.get(`${l.version}:${l.index}`);
              return [
                ...(t ? [formatBytes(t.bytes), t.rows.toLocaleString('en-US')] : ['', '']),
                e ? `${formatMs(e.ms)} (${e.source})` : '',
              ];
            }),
          );
          if (r.estimates) ctx.out.result(renderEstimateTotals(r.estimates, deadline));
        } else if (r.migrations.length) {
          ctx.out.result(renderSummary(r.migrations, r.totalMs, progress.slowest));
          ctx.out.result(renderEstimates(progress.estimateVsActual()));
        } else {
          ctx.out.result('nothing to do: every migration is applied');
        }
      }),
    );
}

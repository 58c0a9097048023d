import type { Command } from 'commander';
import { ExitCode } from '../../errors.js';
import { Option } from 'commander';
import { cleanup } from '../../core/maintenance/cleanup.js';
import type { Sql } from '../../db/connection.js';
import { LockKey, withJobLock } from '../../db/lock.js';
import { withSession } from '../../db/session.js';
import { addLagOption, durationArg, intArg } from '../args.js';
import { replicaGate } from '../throttle.js';
import type { LagLimit } from '../../core/engine/types.js';
import { connect, type RunCommand } from '../context.js';
import { formatMs } from '../output.js';
import { table } from '../render.js';

export function register(cmd: Command, run: RunCommand): void {
  addLagOption(cmd, 'each batch');
  cmd
    .option('--dry-run', 'count what the retention policy would delete, per table; delete nothing')
    .addOption(new Option('--batch-size <n>', 'rows per table per short transaction').default(5000).argParser(intArg('--batch-size', 1)))
    .addOption(
      new Option(
        '--max-runtime <duration>',
        'start no new batch after this long (the first batch always runs; the next run continues)',
      ).argParser(durationArg('--max-runtime')),
    )
    .action((o: { dryRun?: boolean; batchSize: number; maxRuntime?: number; maxReplicaLag: LagLimit | null }) =>
      run(async (ctx) => {
        const { sql } = await connect(ctx, 'cleanup', undefined, 'write');
        const work = (db: Sql) =>
          cleanup(db, {
            dryRun: o.dryRun,
            batchSize: o.batchSize,
            maxRuntimeMs: o.maxRuntime,
            signal: ctx.signal,
            beforeBatch: o.dryRun ? undefined : replicaGate(ctx.out, sql, o.maxReplicaLag),
            onBatch: (b) =>
              ctx.out.verbose(
                `batch ${b.batch}: ${Object.entries(b.deleted)
                  .map(([t, n]) => `${t} ${n}`)
                  .join(', ')}`,
              ),
          });
        // a dry run only counts; a real run takes the daemon's cleanup lock and runs on the session holding it
        const r = o.dryRun
          ? await withSession(sql, {}, (s) => work(s.sql))
          : await withJobLock(sql, LockKey.cleanupJob, 'cleanup', (s) => work(s.sql));
        if (ctx.out.json) return void ctx.out.jsonLine(r);
        ctx.out.result(
          table(
            ['table', o.dryRun ? 'rows to delete' : 'rows deleted'],
            Object.entries(r.tables).map(([t, n]) => [t, n]),
          ),
        );
        const total = Object.values(r.tables).reduce((a, b) => a + b, 0);
        if (o.dryRun) ctx.out.result(`dry run: ${total} row(s) would be deleted; nothing was changed`);
        else
          ctx.out.result(
            `${total} row(s) deleted in ${r.batches} batch(es) of at most ${o.batchSize} row(s) per table, ${formatMs(r.durationMs)}${r.stoppedBy === 'done' ? '' : ` — stopped by ${r.stoppedBy}; the next run continues`}`,
          );
        if (r.stoppedBy === 'interrupted') return ExitCode.interrupted;
      }),
    );
}

import type { Command } from 'commander';
import { Option } from 'commander';
import { refreshViews } from '../../core/maintenance/refresh.js';
import { LockKey, withJobLock } from '../../db/lock.js';
import { addLagOption, durationArg } from '../args.js';
import { replicaGate } from '../throttle.js';
import type { LagLimit } from '../../core/engine/types.js';
import { connect, type RunCommand } from '../context.js';
import { formatMs } from '../output.js';
import { table } from '../render.js';

export function register(cmd: Command, run: RunCommand): void {
  addLagOption(cmd, 'each refresh');
  cmd
    .argument('[views...]', 'materialized views to refresh (default: the stale ones)')
    .option('--all', 'refresh every materialized view')
    .option('--no-concurrently', 'plain REFRESH (locks each view for readers while it runs)')
    .addOption(
      new Option('--lock-timeout <duration>', 'lock_timeout of each refresh').default(5000, '5s').argParser(durationArg('--lock-timeout')),
    )
    .addOption(
      new Option('--statement-timeout <duration>', 'statement_timeout of each refresh (0: none)')
        .default(0)
        .argParser(durationArg('--statement-timeout')),
    )
    .action(
      (
        views: string[],
        o: { all?: boolean; concurrently: boolean; lockTimeout: number; statementTimeout: number; maxReplicaLag: LagLimit | null },
      ) =>
        run(async (ctx) => {
          const { sql } = await connect(ctx, 'refresh-views', undefined, 'write');
          // every statement on the session that holds the lock: if it ends, the refresh stops with it
          const r = await withJobLock(sql, LockKey.refreshJob, 'refresh of the materialized views', (s) =>
            refreshViews(s.sql, {
              views,
              all: o.all,
              concurrently: o.concurrently,
              lockTimeoutMs: o.lockTimeout,
              statementTimeoutMs: o.statementTimeout,
              signal: ctx.signal,
              beforeRefresh: replicaGate(ctx.out, sql, o.maxReplicaLag),
              onWarning: (m) => ctx.out.warn(m),
              onView: (v) =>
                ctx.out.info(`refreshed ${v.view} (${v.mode}) in ${formatMs(v.durationMs)}${v.rows === null ? '' : `: ${v.rows} rows`}`),
            }),
          );
          // Ctrl-C between two views: the ones done stay refreshed, the rest stay marked stale
          const code = ctx.signal.aborted ? 130 : 0;
          if (ctx.out.json) ctx.out.jsonLine(r);
          else if (!r.views.length) ctx.out.result('nothing to refresh: there is no materialized view in this database');
          else if (!r.refreshed.length && !code)
            ctx.out.result(
              `nothing to refresh: no materialized view is marked stale (${r.views.length} view(s); --all refreshes every one)`,
            );
          else if (r.refreshed.length)
            ctx.out.result(
              table(
                ['view', 'mode', 'was stale', 'duration', 'rows'],
                r.refreshed.map((v) => [v.view, v.mode, v.wasStale ? 'yes' : 'no', formatMs(v.durationMs), v.rows ?? '?']),
              ),
            );
          return code;
        }),
    );
}

import type { Command } from 'commander';
import { liveSchedules, lastRuns } from '../../core/daemon/runs.js';
import { hostTimezone, nextRuns } from '../../core/daemon/schedule.js';
import { intArg } from '../args.js';
import { connect, type RunCommand } from '../context.js';
import { formatMs } from '../output.js';
import { table } from '../render.js';

export function register(cmd: Command, run: RunCommand): void {
  cmd.option('--limit <n>', 'how many past runs', intArg('--limit', 1), 20).action((o: { limit: number }) =>
    run(async (ctx) => {
      const { sql } = await connect(ctx, 'jobs');
      const runs = await lastRuns(sql, o.limit);
      const live = await liveSchedules(sql);
      const schedules = live.length
        ? live.map((s) => ({ ...s, next: nextRuns(s.cron, s.timezone, 2) }))
        : [
            {
              job: 'refresh',
              host: '(no daemon running: defaults)',
              pid: 0,
              cron: '0 * * * *',
              timezone: hostTimezone(),
              next: nextRuns('0 * * * *', hostTimezone(), 2),
            },
            {
              job: 'cleanup',
              host: '(no daemon running: defaults)',
              pid: 0,
              cron: '0 3 * * *',
              timezone: hostTimezone(),
              next: nextRuns('0 3 * * *', hostTimezone(), 2),
            },
          ];
      if (ctx.out.json) return void ctx.out.jsonLine({ runs, schedules });
      ctx.out.result('next scheduled runs:');
      ctx.out.result(
        table(
          ['job', 'daemon', 'cron', 'time zone', 'next'],
          schedules.map((s) => [
            s.job,
            s.pid ? `${s.host} pid ${s.pid}` : s.host,
            s.cron,
            s.timezone,
            s.next.map((d) => d.toISOString()).join(', '),
          ]),
        ),
      );
      if (!runs.length) return void ctx.out.result('no job has run yet');
      ctx.out.result('last runs:');
      ctx.out.result(
        table(
          ['job', 'started', 'trigger', 'host / pid', 'outcome', 'rows', 'took', 'error'],
          runs.map((r) => [
            r.job,
            r.started_at.toISOString(),
            r.trigger,
            `${r.host} / ${r.pid}`,
            r.outcome,
            r.rows_affected ?? '',
            r.finished_at ? formatMs(r.finished_at.getTime() - r.started_at.getTime()) : '',
            r.error ?? '',
          ]),
        ),
      );
    }),
  );
}

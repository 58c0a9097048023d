import type { Command } from 'commander';
import { Option } from 'commander';
import { Daemon, type DaemonEvent } from '../../core/daemon/daemon.js';
import { serveMetrics } from '../../core/daemon/metrics.js';
import { checkCron, checkTimezone, hostTimezone } from '../../core/daemon/schedule.js';
import { BoosterzError, ExitCode } from '../../errors.js';
import { addLagOption, durationArg, intArg } from '../args.js';
import type { LagLimit } from '../../core/engine/types.js';
import { connect, type RunCommand } from '../context.js';
import { formatMs } from '../output.js';

interface DaemonFlags {
  refreshCron: string;
  cleanupCron: string;
  timezone?: string;
  refreshDebounce: number;
  shutdownTimeout: number;
  historyDays: number;
  metricsPort?: number;
  maxReplicaLag: LagLimit | null;
}

function line(e: DaemonEvent): string {
  const who = e.job ? `${e.job} ` : '';
  switch (e.event) {
    case 'daemon:start':
      return `daemon started: ${e.schedules!.map((s) => `${s.job} "${s.cron}" (${s.timezone})`).join(', ')}`;
    case 'job:start':
      return `${who}started (${e.trigger}${e.tick ? ` ${e.tick}` : ''})`;
    case 'job:done':
      return `${who}ok: ${e.rows} ${e.job === 'refresh' ? 'view(s) refreshed' : 'row(s) deleted'} in ${formatMs(e.durationMs ?? 0)}`;
    case 'job:failed':
      return `${who}FAILED${e.durationMs !== undefined ? ` after ${formatMs(e.durationMs)}` : ''}: ${e.error} (tried again next tick)`;
    case 'job:cancelled':
      return `${who}cancelled at shutdown after ${formatMs(e.durationMs ?? 0)}`;
    case 'job:skipped':
      return `${who}skipped: ${e.reason}`;
    case 'job:abandoned':
      return `${who}run(s) ${e.runs!.join(', ')} ${e.reason}`;
    case 'notify':
      return `views marked stale: ${e.view}`;
    case 'db:down':
      return `database unreachable: ${e.error}`;
    case 'db:up':
      return 'database reachable';
    case 'listen':
      return e.reason ?? 'listening';
    case 'daemon:stop':
      return 'daemon stopped';
    case 'role':
      return `role: ${e.role} (${e.reason})`;
    case 'throttle':
      return `${who}throttled before ${e.reason}`;
  }
}

export function register(cmd: Command, run: RunCommand): void {
  addLagOption(cmd, "each of the jobs' batches and refreshes");
  cmd
    .option('--refresh-cron <expr>', 'when to refresh stale materialized views (5 fields, or 6 with seconds)', '0 * * * *')
    .option('--cleanup-cron <expr>', 'when to apply the retention policy', '0 3 * * *')
    .option('--timezone <tz>', "IANA time zone of the schedules (default: the host's)")
    .addOption(
      new Option('--refresh-debounce <duration>', 'after a freshness NOTIFY, refresh this much later')
        .default(30_000, '30s')
        .argParser(durationArg('--refresh-debounce')),
    )
    .addOption(
      new Option('--shutdown-timeout <duration>', 'on SIGTERM, let a running job finish this long, then cancel it')
        .default(30_000, '30s')
        .argParser(durationArg('--shutdown-timeout')),
    )
    .addOption(new Option('--history-days <n>', 'prune job history older than this').default(30).argParser(intArg('--history-days', 1)))
    .addOption(
      new Option('--metrics-port <port>', 'serve Prometheus /metrics and /healthz on this port').argParser(
        intArg('--metrics-port', 1, 65535),
      ),
    )
    .action((o: DaemonFlags) =>
      run(async (ctx) => {
        checkCron('--refresh-cron', o.refreshCron);
        checkCron('--cleanup-cron', o.cleanupCron);
        const timezone = o.timezone ?? hostTimezone();
        checkTimezone(timezone);
        const { sql } = await connect(ctx, 'daemon', undefined, 'daemon');
        const emit = (e: DaemonEvent) => {
          if (ctx.out.json) ctx.out.jsonLine({ ts: new Date().toISOString(), ...e });
          else ctx.out.result(`${new Date().toISOString()} ${line(e)}`);
        };
        const daemon = new Daemon(sql, {
          refreshCron: o.refreshCron,
          cleanupCron: o.cleanupCron,
          timezone,
          refreshDebounceMs: o.refreshDebounce,
          shutdownTimeoutMs: o.shutdownTimeout,
          historyDays: o.historyDays,
          maxReplicaLag: o.maxReplicaLag,
          onEvent: emit,
        });
        const metrics = o.metricsPort
          ? await serveMetrics(daemon, o.metricsPort).catch((err: Error) => {
              throw new BoosterzError(
                `cannot serve metrics on port ${o.metricsPort}: ${err.message}`,
                ExitCode.usage,
                [],
                {},
                { cause: err },
              );
            })
          : undefined;
        await daemon.start();
        await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r(), { once: true }));
        await daemon.stop();
        metrics?.close();
        return ExitCode.ok;
      }),
    );
}

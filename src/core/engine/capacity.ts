import { cpus, totalmem } from 'node:os';
import type { ReservedSql, Sql } from '../../db/connection.js';
import type { Emit } from './events.js';

/** What parallel builds may use on the server, and how much it has. */
export interface Capacity {
  maintenanceWorkMemBytes: number;
  workersPerBuild: number;
  /** Known for a server on this machine (loopback or socket), else from --server-memory. */
  serverMemoryBytes?: number;
  /** CPU cores of the server: known for a server on this machine, else from --server-cpus (builds side by side share them). */
  cores?: number;
}

/**
 * max_parallel_maintenance_workers for each build session of `--parallel N`, when the server's
 * cores are known: N builds side by side, each a leader and its workers, take no more cores than
 * the server has (N × (1 + workers) ≤ cores), and never more workers than the server's setting.
 * Undefined: the server's setting stands (N = 1, cores unknown, or enough cores for it).
 */
export function buildWorkers(parallel: number, c: Capacity): number | undefined {
  if (parallel <= 1 || !c.cores) return undefined;
  const fits = Math.max(0, Math.floor(c.cores / parallel) - 1);
  return fits < c.workersPerBuild ? fits : undefined;
}

const MB = 1024 * 1024;

export async function capacity(db: Sql | ReservedSql, serverMemoryBytes?: number, serverCpus?: number): Promise<Capacity> {
  const [r] = await db<{ mwm: string; workers: number; local: boolean }[]>`
    select (select setting::bigint * (case unit when 'kB' then 1024 when '8kB' then 8192 when 'MB' then 1048576 else 1 end)
              from pg_settings where name = 'maintenance_work_mem')::text as mwm,
           current_setting('max_parallel_maintenance_workers')::int as workers,
           coalesce(host(inet_server_addr()) in ('127.0.0.1', '::1'), true) as local`;
  return {
    maintenanceWorkMemBytes: Number(r.mwm),
    workersPerBuild: r.workers,
    serverMemoryBytes: serverMemoryBytes ?? (r.local ? totalmem() : undefined),
    cores: serverCpus ?? (r.local ? cpus().length : undefined),
  };
}

/**
 * States what `--parallel N` may use (N × maintenance_work_mem, and N × the parallel workers of
 * one build, fewer when the cores are known: buildWorkers) and warns when that is more than a quarter of the server's memory.
 */
export function reportCapacity(parallel: number, c: Capacity, emit: Emit): void {
  const total = parallel * c.maintenanceWorkMemBytes;
  const workers = buildWorkers(parallel, c);
  emit({
    type: 'parallel',
    builds: parallel,
    maintenanceWorkMemBytes: c.maintenanceWorkMemBytes,
    totalBytes: total,
    workersPerBuild: workers ?? c.workersPerBuild,
    serverMemoryBytes: c.serverMemoryBytes,
    cores: c.cores,
  });
  const mb = (n: number) => `${Math.round(n / MB)} MB`;
  emit({
    type: 'notice',
    message:
      `--parallel ${parallel}: up to ${parallel} index builds side by side may use ${parallel} × ${mb(c.maintenanceWorkMemBytes)} maintenance_work_mem = ${mb(total)}` +
      (workers === undefined
        ? ` and up to ${parallel} × ${c.workersPerBuild} parallel workers (max_parallel_maintenance_workers)`
        : ` and ${parallel} × ${workers} parallel workers: each build session sets max_parallel_maintenance_workers = ${workers} (server: ${c.workersPerBuild}) so that ${parallel} builds side by side fit the server's ${c.cores} cores`) +
      (c.serverMemoryBytes
        ? `, on a server with ${mb(c.serverMemoryBytes)}`
        : '; server memory unknown (pass --server-memory to check it)'),
  });
  if (c.cores && parallel > c.cores) {
    emit({
      type: 'warning',
      message: `--parallel ${parallel} on a server with ${c.cores} cores: more builds than cores share them and finish no sooner (measured on 2 cores: --parallel 4 took ×1.15 the time of --parallel 2); use at most --parallel ${c.cores}`,
    });
  }
  if (c.serverMemoryBytes && total > c.serverMemoryBytes / 4) {
    emit({
      type: 'warning',
      message: `--parallel ${parallel} × maintenance_work_mem (${mb(total)}) is more than a quarter of the server's memory (${mb(c.serverMemoryBytes)}): lower --parallel or maintenance_work_mem`,
    });
  }
}

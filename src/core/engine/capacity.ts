import { cpus, totalmem } from 'node:os';
import type { ReservedSql, Sql } from '../../db/connection.js';
import type { Emit } from './events.js';

/** What parallel builds may use on the server, and how much it has. */
export interface Capacity {
  maintenanceWorkMemBytes: number;
  workersPerBuild: number;
  /** Known for a server on this machine (loopback or socket), else from --server-memory. */
  serverMemoryBytes?: number;
  /** CPU cores of a server on this machine (builds side by side share them). */
  cores?: number;
}

const MB = 1024 * 1024;

export async function capacity(db: Sql | ReservedSql, serverMemoryBytes?: number): Promise<Capacity> {
  const [r] = await db<{ mwm: string; workers: number; local: boolean }[]>`
    select (select setting::bigint * (case unit when 'kB' then 1024 when '8kB' then 8192 when 'MB' then 1048576 else 1 end)
              from pg_settings where name = 'maintenance_work_mem')::text as mwm,
           current_setting('max_parallel_maintenance_workers')::int as workers,
           coalesce(host(inet_server_addr()) in ('127.0.0.1', '::1'), true) as local`;
  return {
    maintenanceWorkMemBytes: Number(r.mwm),
    workersPerBuild: r.workers,
    serverMemoryBytes: serverMemoryBytes ?? (r.local ? totalmem() : undefined),
    cores: r.local ? cpus().length : undefined,
  };
}

/**
 * States what `--parallel N` may use (N × maintenance_work_mem, and N × the parallel workers of
 * one build) and warns when that is more than a quarter of the server's memory.
 */
export function reportCapacity(parallel: number, c: Capacity, emit: Emit): void {
  const total = parallel * c.maintenanceWorkMemBytes;
  emit({
    type: 'parallel',
    builds: parallel,
    maintenanceWorkMemBytes: c.maintenanceWorkMemBytes,
    totalBytes: total,
    workersPerBuild: c.workersPerBuild,
    serverMemoryBytes: c.serverMemoryBytes,
  });
  const mb = (n: number) => `${Math.round(n / MB)} MB`;
  emit({
    type: 'notice',
    message:
      `--parallel ${parallel}: up to ${parallel} index builds side by side may use ${parallel} × ${mb(c.maintenanceWorkMemBytes)} maintenance_work_mem = ${mb(total)}` +
      ` and up to ${parallel} × ${c.workersPerBuild} parallel workers (max_parallel_maintenance_workers)` +
      (c.serverMemoryBytes
        ? `, on a server with ${mb(c.serverMemoryBytes)}`
        : '; server memory unknown (pass --server-memory to check it)'),
  });
  if (c.serverMemoryBytes && total > c.serverMemoryBytes / 4) {
    emit({
      type: 'warning',
      message: `--parallel ${parallel} × maintenance_work_mem (${mb(total)}) is more than a quarter of the server's memory (${mb(c.serverMemoryBytes)}): lower --parallel or maintenance_work_mem`,
    });
  }
}

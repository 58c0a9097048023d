import type { ReservedSql, Sql } from '../../db/connection.js';
import { replicationSlots, standbyLags, type SlotInfo, type StandbyLag } from '../../db/replication.js';
import type { LagLimit, Script } from './types.js';
import { sleep } from './sleep.js';

/** What the throttle reports: a standby over the limit (each poll while waiting), then the end of the wait. */
export type ThrottleEvent =
  | { type: 'throttle'; standby: string; lagBytes: number | null; lagMs: number | null; limit: string; waitedMs: number; before: string }
  | { type: 'throttle:done'; waitedMs: number; before: string }
  | { type: 'warning'; message: string };

/** Default of --max-replica-lag. */
export const DEFAULT_MAX_REPLICA_LAG: LagLimit = { ms: 30_000 };

export const describeLimit = (l: LagLimit) => ('bytes' in l ? `${Math.round(l.bytes / 1024 / 1024)}MB` : `${l.ms / 1000}s`);

/** An LSN `X/Y` as a number of bytes. */
export function lsnBytes(lsn: string): bigint {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

const POLL_MS = 1_000;
const KEEP_MS = 15 * 60_000;

/**
 * Holds a run back while a streaming standby lags more than the limit: before each statement
 * (and each cleanup batch and refresh) it reads pg_stat_replication on the primary. A size
 * limit compares the WAL not yet replayed; a duration limit takes the larger of replay_lag and
 * the age of the oldest WAL position, seen by this run, that the standby has not replayed (so a
 * standby whose replay is stopped counts as lagging even when replay_lag stands still).
 * A standby that is not connected is not waited for (its slot shows in pre-flight).
 */
export class ReplicaThrottle {
  private samples: { t: number; lsn: bigint }[] = [];
  private blind = false;

  constructor(
    private readonly sql: Sql | ReservedSql,
    readonly limit: LagLimit,
    private readonly emit: (e: ThrottleEvent) => void,
  ) {}

  /** Each standby with its lag now (bytes, and ms as described above). */
  async read(): Promise<(StandbyLag & { lagMs: number | null })[]> {
    const now = Date.now();
    const { lsn, standbys } = await standbyLags(this.sql);
    this.samples.push({ t: now, lsn: lsnBytes(lsn) });
    while (this.samples.length > 2 && now - this.samples[0].t > KEEP_MS) this.samples.shift();
    return standbys.map((s) => {
      const replay = s.replayLsn ? lsnBytes(s.replayLsn) : undefined;
      const behind = replay === undefined ? undefined : this.samples.find((x) => x.lsn > replay);
      const derived = behind ? now - behind.t : 0;
      const lagMs = s.replayLagMs === null && !behind ? null : Math.max(s.replayLagMs ?? 0, derived);
      return { ...s, lagMs };
    });
  }

  private over(s: StandbyLag & { lagMs: number | null }): boolean {
    if ('bytes' in this.limit) return s.lagBytes !== null && s.lagBytes > this.limit.bytes;
    return s.lagMs !== null && s.lagMs > this.limit.ms;
  }

  /** Returns when no standby is over the limit, or when the signal fires. */
  async wait(before: string, signal?: AbortSignal): Promise<void> {
    const t0 = Date.now();
    let waited = false;
    for (;;) {
      if (signal?.aborted) return;
      const standbys = await this.read();
      if (!this.blind && standbys.some((s) => s.lagBytes === null)) {
        this.blind = true;
        this.emit({
          type: 'warning',
          message:
            'this role cannot see the standbys’ replay position (pg_stat_replication needs pg_monitor): --max-replica-lag is not enforced',
        });
      }
      const late = standbys.filter((s) => this.over(s));
      if (!late.length) break;
      waited = true;
      for (const s of late)
        this.emit({
          type: 'throttle',
          standby: s.name,
          lagBytes: s.lagBytes,
          lagMs: s.lagMs,
          limit: describeLimit(this.limit),
          waitedMs: Date.now() - t0,
          before,
        });
      await sleep(POLL_MS, signal);
    }
    if (waited) this.emit({ type: 'throttle:done', waitedMs: Date.now() - t0, before });
  }
}

/** What pre-flight shows about replication: the standbys, the slots, and the WAL the pending statements will write. */
export interface ReplicationPreflight {
  standbys: StandbyLag[];
  slots: SlotInfo[];
  /** Estimated WAL of the pending index builds (bytes). */
  walEstimateBytes: number;
}

/**
 * WAL the pending statements will write, estimated for the index builds (the bulk of it): for
 * each index, the table's rows × (its columns' average width from pg_stats, else 8 bytes, plus
 * 12 bytes of tuple header and line pointer), over a 90% fill. Other statements count as nothing.
 */
export async function estimateWal(sql: Sql | ReservedSql, scripts: Script[]): Promise<number> {
  let total = 0;
  for (const st of scripts.flatMap((s) => s.statements)) {
    if (st.node !== 'IndexStmt' || !st.table) continue;
    const cols: string[] = (st.ast.indexParams ?? []).map((p: any) => String(p?.IndexElem?.name ?? ''));
    const [r] = await sql<{ rows: number | null; width: number | null }[]>`
      select greatest(c.reltuples, 0)::float8 as rows,
             (select sum(coalesce(s.avg_width, 8))::float8 from unnest(${cols}::text[]) k(col)
                left join pg_stats s on s.schemaname = n.nspname and s.tablename = c.relname and s.attname = k.col) as width
        from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass(${st.table})`;
    if (r?.rows) total += (r.rows * ((r.width ?? 8 * cols.length) + 12)) / 0.9;
  }
  return Math.round(total);
}

export async function replicationPreflight(sql: Sql | ReservedSql, scripts: Script[]): Promise<ReplicationPreflight> {
  const { standbys } = await standbyLags(sql);
  return { standbys, slots: await replicationSlots(sql), walEstimateBytes: await estimateWal(sql, scripts) };
}

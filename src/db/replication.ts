import type { ReservedSql, Sql } from './connection.js';

/** A streaming standby as the primary sees it (pg_stat_replication). */
export interface StandbyLag {
  /** application_name of the walreceiver (primary_conninfo), else its address. */
  name: string;
  state: string | null;
  /** WAL written on the primary that the standby has not replayed yet; null when this role may not see it (needs pg_monitor). */
  lagBytes: number | null;
  /** replay_lag as the primary measured it (null when idle or not visible). */
  replayLagMs: number | null;
  /** The standby's replay position. */
  replayLsn: string | null;
}

/** The primary's current WAL position and its standbys' lag; none on a server without standbys. */
export async function standbyLags(sql: Sql | ReservedSql): Promise<{ lsn: string; standbys: StandbyLag[] }> {
  const rows = await sql<(StandbyLag & { lsn: string })[]>`
    select pg_current_wal_lsn()::text as lsn,
           coalesce(nullif(r.application_name, ''), r.client_addr::text, 'pid ' || r.pid) as name, r.state,
           pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::float8 as "lagBytes",
           (extract(epoch from r.replay_lag) * 1000)::float8 as "replayLagMs", r.replay_lsn::text as "replayLsn"
      from (select 1) one left join pg_stat_replication r on true
     order by 2`;
  return { lsn: rows[0].lsn, standbys: rows.filter((r) => r.name !== null).map(({ lsn: _lsn, ...s }) => s) };
}

/** A replication slot and the WAL it keeps on the primary. */
export interface SlotInfo {
  name: string;
  type: string;
  active: boolean;
  /** reserved / extended / unreserved / lost (PostgreSQL 13+). */
  walStatus: string | null;
  /** WAL kept for it (from its restart_lsn). */
  retainedBytes: number | null;
}

export async function replicationSlots(sql: Sql | ReservedSql): Promise<SlotInfo[]> {
  return sql<SlotInfo[]>`
    select slot_name as name, slot_type as type, active, wal_status as "walStatus",
           pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 as "retainedBytes"
      from pg_replication_slots order by slot_name`;
}

/** Bytes between two WAL positions (b - a). */
export async function walDiff(sql: Sql | ReservedSql, a: string, b: string): Promise<number> {
  const [r] = await sql<{ d: number }[]>`select pg_wal_lsn_diff(${b}::pg_lsn, ${a}::pg_lsn)::float8 as d`;
  return r.d;
}

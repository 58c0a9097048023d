import type { ReservedSql, Sql } from './connection.js';
import { openSession, type Session } from './session.js';

/*
 * A run's heartbeat: a session of its own, beside the session that holds the migration lock,
 * which holds the advisory lock (HEARTBEAT_CLASS, pid of the lock session) and runs a query
 * every few seconds. It is idle between beats, so when the client dies (kill -9, a closed
 * laptop) the server sees the socket close at once and the heartbeat goes, while the lock
 * session may still be busy inside a long statement. A rerun finding the migration lock held
 * looks for the holder's heartbeat: present and recent means a live run (never disturbed);
 * absent, or silent for longer than STALE_MS (a client cut off by the network), means an
 * orphaned session that will end on its own.
 */

/** First key of the heartbeat locks ('BooH'); the second is the pid of the session holding the migration lock. */
export const HEARTBEAT_CLASS = 0x426f6f48;
/** Between two beats. */
export const BEAT_MS = 2_000;
/** A heartbeat silent for longer than this has stopped. */
export const STALE_MS = 15_000;

export interface Heartbeat {
  stop(): Promise<void>;
}

/** Starts the heartbeat of the run whose migration lock lives on the session `ownerPid`. */
export async function startHeartbeat(pool: Sql, ownerPid: number): Promise<Heartbeat> {
  const s: Session = await openSession(pool, { name: 'heartbeat' });
  await s.sql`select pg_advisory_lock(${HEARTBEAT_CLASS}::int, ${ownerPid}::int)`;
  const timer = setInterval(() => void s.sql`select 1`.catch(() => undefined), BEAT_MS);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await s.close();
    },
  };
}

/** The session holding the migration lock, as a rerun sees it. */
export interface HolderLiveness {
  /** The run's heartbeat is there and recent: a live run. */
  alive: boolean;
  /** Milliseconds since its last beat, when visible. */
  silentMs?: number;
  /** What the holder's session runs now, and for how long. */
  query?: string;
  runningMs?: number;
  /** An index build's progress (pg_stat_progress_create_index), when it is one. */
  phase?: string;
  pct?: number;
}

/** Is the run that holds the lock on session `pid` alive? (Its heartbeat session, see above.) */
export async function holderLiveness(sql: Sql | ReservedSql, pid: number): Promise<HolderLiveness> {
  const [beat] = await sql<{ silentMs: number | null }[]>`
    select (extract(epoch from clock_timestamp() - a.state_change) * 1000)::float8 as "silentMs"
      from pg_locks l join pg_stat_activity a on a.pid = l.pid
     where l.locktype = 'advisory' and l.granted and l.classid = ${HEARTBEAT_CLASS}::oid and l.objid = ${pid}::oid and l.objsubid = 2
       and l.database = (select oid from pg_database where datname = current_database())`;
  const [act] = await sql<{ query: string | null; runningMs: number | null; phase: string | null; pct: number | null }[]>`
    select a.query, (extract(epoch from clock_timestamp() - a.query_start) * 1000)::float8 as "runningMs", p.phase,
           case when p.blocks_total > 0 then (100.0 * p.blocks_done / p.blocks_total)::float8
                when p.tuples_total > 0 then (100.0 * p.tuples_done / p.tuples_total)::float8 end as pct
      from pg_stat_activity a left join pg_stat_progress_create_index p on p.pid = a.pid
     where a.pid = ${pid}`;
  const alive = !!beat && (beat.silentMs === null || beat.silentMs < STALE_MS);
  return {
    alive,
    silentMs: beat?.silentMs ?? undefined,
    query: act?.query ?? undefined,
    runningMs: act?.runningMs ?? undefined,
    phase: act?.phase ?? undefined,
    pct: act?.pct ?? undefined,
  };
}

/** Does this server cancel the statement of a client that has gone (client_connection_check_interval, PostgreSQL 14+)? */
export async function checksDeadClients(sql: Sql | ReservedSql): Promise<boolean> {
  const [row] = await sql<
    { ok: boolean }[]
  >`select exists (select 1 from pg_settings where name = 'client_connection_check_interval') as ok`;
  return row.ok;
}

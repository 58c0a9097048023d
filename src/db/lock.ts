import type { ReservedSql, Sql } from './connection.js';
import { BoosterzError, ExitCode, interruptedError, isConnectionLoss } from '../errors.js';
import { openSession, type Session } from './session.js';
import { checksDeadClients, holderLiveness, type HolderLiveness } from './heartbeat.js';

/** First key of every advisory lock the tool takes ('Boos' in ASCII). */
export const LOCK_CLASS = 0x426f6f73;
/** Second key: what is locked. */
export const LockKey = { migrations: 1, refreshJob: 2, cleanupJob: 3 } as const;

export interface LockHolder {
  pid: number;
  application_name: string;
  usename: string | null;
  client_addr: string | null;
  since: Date | null;
  state: string | null;
}

/** Who holds one of the tool's advisory locks, if anyone. */
export async function lockHolder(sql: Sql | ReservedSql, key: number): Promise<LockHolder | undefined> {
  const rows = await sql<LockHolder[]>`
    select a.pid, a.application_name, a.usename, a.client_addr::text as client_addr,
           coalesce(a.xact_start, a.backend_start) as since, a.state
      from pg_locks l join pg_stat_activity a on a.pid = l.pid
     where l.locktype = 'advisory' and l.granted
       and l.classid = ${LOCK_CLASS}::oid and l.objid = ${key}::oid and l.objsubid = 2
       and l.database = (select oid from pg_database where datname = current_database())`;
  return rows[0];
}

export function describeHolder(h: LockHolder): string {
  const since = h.since ? ` since ${h.since.toISOString()}` : '';
  return `pid ${h.pid} (${h.application_name || 'no application_name'}${h.usename ? `, user ${h.usename}` : ''}${h.client_addr ? `, from ${h.client_addr}` : ''})${since}`;
}

/** One non-blocking attempt at a session advisory lock on this connection. */
export async function tryLock(conn: ReservedSql | Sql, key: number): Promise<boolean> {
  const [row] = await conn<{ ok: boolean }[]>`select pg_try_advisory_lock(${LOCK_CLASS}::int, ${key}::int) as ok`;
  return row.ok;
}

export async function unlock(conn: ReservedSql | Sql, key: number): Promise<void> {
  await conn`select pg_advisory_unlock(${LOCK_CLASS}::int, ${key}::int)`;
}

/** What to do when the lock is held by a session whose run has gone (its heartbeat stopped, see heartbeat.ts). */
export interface OrphanPolicy {
  /** How long to wait for that session to end by itself (ms). */
  waitMs: number;
  onOrphan(holder: LockHolder, l: HolderLiveness, waitMs: number): void;
}

const seconds = (ms: number | undefined) => `${Math.round((ms ?? 0) / 1000)} s`;

/** Exit 4 for a lock held by an orphaned session: how long it may still run, and how to end it. */
function orphanError(h: LockHolder, l: HolderLiveness, serverEndsIt: boolean, waitedMs: number): BoosterzError {
  const what = `${(l.query ?? '?').replace(/\s+/g, ' ').slice(0, 120)} (running for ${seconds(l.runningMs)}${l.phase ? `, ${l.phase}${l.pct !== undefined ? ` ${l.pct.toFixed(0)}%` : ''}` : ''})`;
  const left = l.pct && l.pct > 0 && l.runningMs ? `; at this pace about ${seconds((l.runningMs * (100 - l.pct)) / l.pct)} more` : '';
  const end = `end it now with select pg_cancel_backend(${h.pid}) (an interrupted index build is rebuilt by the rerun), then rerun`;
  return new BoosterzError(
    serverEndsIt
      ? `the run holding the migration lock has gone (its heartbeat stopped), but its session pid ${h.pid} still runs after ${seconds(waitedMs)}: ${what}`
      : `the run holding the migration lock has gone (its heartbeat stopped); its session pid ${h.pid} goes on until its statement ends${left}: ${what}`,
    ExitCode.locked,
    serverEndsIt
      ? ['the server should have ended it (client_connection_check_interval)', end]
      : ['this PostgreSQL (before 14) cannot notice a dead client during a statement: wait (--lock-wait 30m), or ' + end],
    { holder: h, orphaned: true },
  );
}

/**
 * Takes the session advisory lock on a reserved connection, waiting up to waitMs,
 * then runs fn and unlocks. On timeout: exit 4 naming who holds the lock. With an orphan
 * policy, a holder whose run has gone is waited for (bounded) to end by itself: never
 * disturbed, and a live holder never is either.
 */
export async function withAdvisoryLock<T>(
  conn: ReservedSql,
  key: number,
  waitMs: number,
  onWait: (holder: LockHolder | undefined) => void,
  fn: () => Promise<T>,
  signal?: AbortSignal,
  orphan?: OrphanPolicy,
): Promise<T> {
  const deadline = Date.now() + waitMs;
  let announced = false;
  let orphaned: { pid: number; since: number; serverEndsIt: boolean } | undefined;
  while (!(await tryLock(conn, key))) {
    const holder = await lockHolder(conn, key);
    const l = holder && orphan ? await holderLiveness(conn, holder.pid) : undefined;
    if (holder && orphan && l && !l.alive) {
      if (orphaned?.pid !== holder.pid) {
        orphaned = { pid: holder.pid, since: Date.now(), serverEndsIt: await checksDeadClients(conn) };
        if (orphaned.serverEndsIt) orphan.onOrphan(holder, l, orphan.waitMs);
      }
      const waited = Date.now() - orphaned.since;
      if (!orphaned.serverEndsIt || (waited >= orphan.waitMs && Date.now() >= deadline))
        throw orphanError(holder, l, orphaned.serverEndsIt, waited);
      await new Promise((r) => setTimeout(r, 200));
      if (signal?.aborted)
        throw new BoosterzError('interrupted while waiting for the migration lock: nothing was changed', ExitCode.interrupted);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder ? describeHolder(holder) : 'a session that has just released it';
      throw new BoosterzError(
        `another run holds the migration lock: ${who}`,
        ExitCode.locked,
        ['wait for it to finish, or pass --lock-wait 10m to queue behind it'],
        { holder },
      );
    }
    if (!announced) onWait(holder);
    announced = true;
    await new Promise((r) => setTimeout(r, Math.min(500, Math.max(deadline - Date.now(), 10))));
    if (signal?.aborted) throw interruptedError('while waiting for the migration lock', 'nothing was changed');
  }
  let lost = false;
  try {
    return await fn();
  } catch (err) {
    lost = isConnectionLoss(err); // the lock died with the session; writing to it would throw
    throw err;
  } finally {
    if (!lost) await unlock(conn, key).catch(() => undefined);
  }
}

/** The error of a job whose session (and so its lock) ended mid-run: exit 5, marked as a lost connection. */
export function lostJobSession(s: Session, what: string, err: unknown): BoosterzError {
  const cause = err instanceof Error ? err.message : String(err);
  return new BoosterzError(
    `lost the database session that held the lock of the ${what} (pid ${s.pid}): ${cause}`,
    ExitCode.statementFailed,
    ['the work stopped there: what was committed stays, the rest was rolled back; rerun to continue'],
    { lostConnection: true, pid: s.pid },
    { cause: err },
  );
}

/**
 * Runs fn holding a job's advisory lock (the same one the daemon's job takes), so a cron
 * run and a daemon never run the same job at once. The lock is taken on a session of its
 * own (the tool's session settings, see session.ts) and fn must run all the job's statements
 * on that session (`s.sql`): if the session ends, the lock and the work end together, and
 * the error says so (exit 5). Busy: exit 4 naming the holder.
 */
export async function withJobLock<T>(sql: Sql, key: number, what: string, fn: (s: Session) => Promise<T>): Promise<T> {
  const s = await openSession(sql);
  try {
    if (!(await tryLock(s.sql, key))) {
      const h = await lockHolder(s.sql, key);
      throw new BoosterzError(
        `another ${what} is running: ${h ? describeHolder(h) : 'a session that has just released it'}`,
        ExitCode.locked,
        ["it may be the daemon's job; try again when it is done"],
      );
    }
    try {
      return await fn(s);
    } finally {
      if (!s.lost.aborted) await unlock(s.sql, key).catch(() => undefined);
    }
  } catch (err) {
    if (s.lost.aborted || isConnectionLoss(err)) throw lostJobSession(s, what, err);
    throw err;
  } finally {
    await s.close();
  }
}

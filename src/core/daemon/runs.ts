import type { ReservedSql, Sql } from '../../db/connection.js';
import { toolTable } from '../../db/sql.js';
import { SQL_DIR, sqlFile } from '../../db/sqlfiles.js';

type Db = Sql | ReservedSql;

export type JobName = 'refresh' | 'cleanup';

/** A row of boosterz_db.job_runs. */
export interface JobRun {
  id: number;
  job: JobName;
  tick: Date | null;
  trigger: string;
  host: string;
  pid: number;
  started_at: Date;
  finished_at: Date | null;
  outcome: 'running' | 'ok' | 'failed' | 'cancelled';
  rows_affected: number | null;
  error: string | null;
}

/** Creates the daemon's tables (idempotent). */
export async function ensureJobTables(db: Db): Promise<void> {
  await db.unsafe(await sqlFile(SQL_DIR, 'tool/jobs.sql'));
}

/**
 * Claims the run of `job` for a scheduled tick: returns the run id, or undefined when
 * another daemon already ran (or runs) this tick. Call while holding the job's advisory lock.
 */
export async function claimRun(
  db: Db,
  r: { job: JobName; tick: Date | null; trigger: string; host: string; pid: number },
): Promise<number | undefined> {
  const rows = await db<{ id: number }[]>`
    insert into ${db(toolTable('job_runs'))} (job, tick, trigger, host, pid)
    values (${r.job}, ${r.tick}, ${r.trigger}, ${r.host}, ${r.pid})
    on conflict (job, tick) do nothing returning id::int as id`;
  return rows[0]?.id;
}

/**
 * Closes the runs of `job` still marked running although no session runs them any more: a
 * daemon killed mid-run, or one whose session ended and that could not record it. Only
 * correct while holding the job's advisory lock: a live run always holds it, so with the
 * lock in hand every `running` row of the job is an orphan. Returns their ids.
 */
export async function closeAbandonedRuns(db: Db, job: JobName): Promise<number[]> {
  const rows = await db<{ id: number }[]>`
    update ${db(toolTable('job_runs'))}
       set outcome = 'failed', finished_at = now(),
           error = 'abandoned: the session that ran it ended (daemon killed, connection lost or server restart) before it could record an outcome'
     where job = ${job} and outcome = 'running'
 returning id::int as id`;
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

export async function finishRun(db: Db, id: number, outcome: JobRun['outcome'], rows: number | null, error: string | null): Promise<void> {
  await db`update ${db(toolTable('job_runs'))} set finished_at = now(), outcome = ${outcome}, rows_affected = ${rows}, error = ${error} where id = ${id}`;
}

export async function pruneRuns(db: Db, days: number): Promise<number> {
  const r = await db`delete from ${db(toolTable('job_runs'))} where started_at < now() - make_interval(days => ${days}::int)`;
  return r.count;
}

export async function recordSchedules(
  db: Db,
  host: string,
  pid: number,
  schedules: { job: JobName; cron: string; timezone: string }[],
): Promise<void> {
  for (const s of schedules) {
    await db`
      insert into ${db(toolTable('daemon_schedules'))} (job, host, pid, cron, timezone) values (${s.job}, ${host}, ${pid}, ${s.cron}, ${s.timezone})
      on conflict (job, host, pid) do update set cron = excluded.cron, timezone = excluded.timezone, heartbeat_at = now()`;
  }
  await db`delete from ${db(toolTable('daemon_schedules'))} where heartbeat_at < now() - interval '10 minutes'`;
}

export async function forgetSchedules(db: Db, host: string, pid: number): Promise<void> {
  await db`delete from ${db(toolTable('daemon_schedules'))} where host = ${host} and pid = ${pid}`;
}

export async function lastRuns(db: Db, limit = 20): Promise<JobRun[]> {
  const [t] = await db<{ ok: boolean }[]>`select to_regclass(${toolTable('job_runs')}) is not null as ok`;
  if (!t.ok) return [];
  return db<JobRun[]>`
    select id::int, job, tick, trigger, host, pid, started_at, finished_at, outcome, rows_affected::float8 as rows_affected, error
      from ${db(toolTable('job_runs'))} order by started_at desc, id desc limit ${limit}`;
}

export async function liveSchedules(
  db: Db,
): Promise<{ job: JobName; host: string; pid: number; cron: string; timezone: string; heartbeat_at: Date }[]> {
  const [t] = await db<{ ok: boolean }[]>`select to_regclass(${toolTable('daemon_schedules')}) is not null as ok`;
  if (!t.ok) return [];
  return db`select job, host, pid, cron, timezone, heartbeat_at from ${db(toolTable('daemon_schedules'))}
             where heartbeat_at > now() - interval '3 minutes' order by job, host, pid`;
}

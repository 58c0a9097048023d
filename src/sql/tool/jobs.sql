-- The daemon's tables: one row per job run (claimed per tick, so each tick runs once across daemons)
-- and the schedules of running daemons (for `boosterz-db jobs`). Idempotent. Run by ensureJobTables().
set local client_min_messages = warning;
create schema if not exists boosterz_db;
create table if not exists boosterz_db.job_runs (
  id            bigint generated always as identity primary key,
  job           text not null,
  tick          timestamptz,
  trigger       text not null,
  host          text not null,
  pid           integer not null,
  started_at    timestamptz not null default now(),
  finished_at   timestamptz,
  outcome       text not null default 'running' check (outcome in ('running', 'ok', 'failed', 'cancelled')),
  rows_affected bigint,
  error         text
);
create unique index if not exists job_runs_job_tick_key on boosterz_db.job_runs (job, tick);
create index if not exists job_runs_started_at_idx on boosterz_db.job_runs (started_at);
create table if not exists boosterz_db.daemon_schedules (
  job          text not null,
  host         text not null,
  pid          integer not null,
  cron         text not null,
  timezone     text not null,
  heartbeat_at timestamptz not null default now(),
  primary key (job, host, pid)
);
comment on table boosterz_db.job_runs is 'boosterz-db daemon: one row per job run (pruned by the daemon)';
comment on table boosterz_db.daemon_schedules is 'boosterz-db daemon: the schedules of running daemons, for boosterz-db jobs';

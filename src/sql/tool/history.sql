-- boosterz-db's own bookkeeping: migration history, the statement journal (resume), the orphan audit.
-- Every statement is idempotent: an older install gets the tables it lacks. Run by ensureHistory().
set local client_min_messages = warning;
create schema if not exists boosterz_db;
create table if not exists boosterz_db.schema_history (
  version      integer primary key,
  name         text not null,
  checksum     text not null,
  state        text not null check (state in ('applied', 'baselined', 'partial', 'rolling_back', 'failed')),
  applied_at   timestamptz not null default now(),
  applied_by   text not null default current_user,
  duration_ms  bigint,
  statements   integer,
  error        text
);
create table if not exists boosterz_db.statement_journal (
  version            integer not null,
  direction          text not null check (direction in ('up', 'down')),
  statement_index    integer not null,
  statement_checksum text not null,
  kind               text not null,
  target             text,
  completed_at       timestamptz not null default now(),
  duration_ms        bigint not null,
  primary key (version, direction, statement_index)
);
create table if not exists boosterz_db.orphan_audit (
  id           bigint generated always as identity primary key,
  version      integer not null,
  table_name   text not null,
  row_id       text not null,
  column_name  text not null,
  old_value    text not null,
  detached_at  timestamptz not null default now()
);
comment on table boosterz_db.orphan_audit is 'boosterz-db: foreign-key values set to NULL by migrate --orphans=detach; the rollback script restores them';
comment on table boosterz_db.schema_history is 'boosterz-db: one row per migration applied, baselined, in progress or failed';
comment on table boosterz_db.statement_journal is 'boosterz-db: completed statements of a migration that runs outside a transaction, for resume';

-- boosterz-db: how long each statement took and the size of what it worked on, kept across runs
-- so that estimates on this server start from measured rates (migrate --dry-run, --window).
create table if not exists boosterz_db.statement_stats (
  id                 bigint generated always as identity primary key,
  version            integer not null,
  statement_index    integer not null,
  statement_checksum text not null,
  kind               text not null,
  target             text,
  table_name         text,
  shape              text not null check (shape in ('build', 'scan', 'small')),
  table_pages        bigint not null,
  table_tuples       double precision not null,
  key_width          integer not null,
  expression         boolean not null,
  partial            boolean not null,
  selectivity        double precision,
  side_by_side       integer not null,
  estimate_ms        bigint not null,
  duration_ms        bigint not null,
  recorded_at        timestamptz not null default now()
);
comment on table boosterz_db.statement_stats is 'boosterz-db: duration and table size of each statement run, for the estimates of later runs';

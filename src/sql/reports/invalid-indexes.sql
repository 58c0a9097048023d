-- Indexes left INVALID (a failed or cancelled CREATE INDEX CONCURRENTLY / REINDEX),
-- except those whose build is running right now.
select n.nspname as schema, t.relname as "table", c.relname as index,
       pg_relation_size(c.oid)::float8 as bytes, pg_get_indexdef(c.oid) as definition
  from pg_index i
  join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
  join pg_class t on t.oid = i.indrelid
 where not i.indisvalid
   and not exists (select 1 from pg_stat_progress_create_index p where p.index_relid = i.indexrelid or (p.relid = i.indrelid and p.index_relid = 0))
 order by 1, 2, 3

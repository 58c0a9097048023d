-- Indexes never scanned since the statistics were reset, that nothing else needs:
-- not primary, unique or exclusion, not backing a constraint, and not the index that
-- serves a foreign key (its leading columns are the FK's columns).
select s.schemaname as schema, s.relname as "table", s.indexrelname as index,
       pg_relation_size(s.indexrelid)::float8 as bytes, s.idx_scan::float8 as scans, s.idx_tup_read::float8 as tuples_read,
       pg_get_indexdef(s.indexrelid) as definition
  from pg_stat_user_indexes s
  join pg_index i on i.indexrelid = s.indexrelid
 where s.idx_scan = 0
   and i.indisvalid
   and not i.indisprimary and not i.indisunique and not i.indisexclusion
   and not exists (select 1 from pg_constraint c where c.conindid = s.indexrelid)
   and not exists (
     select 1 from pg_constraint fk
      where fk.contype = 'f' and fk.conrelid = i.indrelid
        and (i.indkey::int2[])[0:cardinality(fk.conkey) - 1] @> fk.conkey
        and (i.indkey::int2[])[0:cardinality(fk.conkey) - 1] <@ fk.conkey)
   and s.schemaname not in ('boosterz_db')
 order by pg_relation_size(s.indexrelid) desc, 1, 2, 3

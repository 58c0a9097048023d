-- Pairs of valid indexes on the same table with the same access method, predicate and
-- expressions, where the key columns (with operator classes, collations and sort options)
-- of one are a leading prefix of the other's. A unique index covered by a non-unique one
-- is not redundant (it enforces something), so it is not reported.
with ix as (
  select i.indexrelid, i.indrelid, i.indisunique, i.indisprimary, c.relam,
         i.indkey::int2[] as keys, i.indclass::oid[] as classes, i.indcollation::oid[] as colls, i.indoption::int2[] as opts,
         coalesce(pg_get_expr(i.indpred, i.indrelid), '') as pred, coalesce(pg_get_expr(i.indexprs, i.indrelid), '') as exprs,
         i.indnkeyatts as nkeys
    from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
   where i.indisvalid and n.nspname not in ('pg_catalog', 'information_schema', 'boosterz_db') and n.nspname not like 'pg\_toast%'
)
select n.nspname as schema, t.relname as "table",
       (select relname from pg_class where oid = a.indexrelid) as index,
       (select relname from pg_class where oid = b.indexrelid) as covered_by,
       pg_relation_size(a.indexrelid)::float8 as bytes,
       pg_get_indexdef(a.indexrelid) as definition, pg_get_indexdef(b.indexrelid) as covering_definition
  from ix a join ix b on a.indrelid = b.indrelid and a.indexrelid <> b.indexrelid
  join pg_class t on t.oid = a.indrelid join pg_namespace n on n.oid = t.relnamespace
 where a.relam = b.relam and a.pred = b.pred and a.exprs = b.exprs
   and a.nkeys <= b.nkeys
   and a.keys[0:a.nkeys - 1] = b.keys[0:a.nkeys - 1]
   and a.classes[0:a.nkeys - 1] = b.classes[0:a.nkeys - 1]
   and a.colls[0:a.nkeys - 1] = b.colls[0:a.nkeys - 1]
   and a.opts[0:a.nkeys - 1] = b.opts[0:a.nkeys - 1]
   and not a.indisprimary
   and (not a.indisunique or (b.indisunique and a.nkeys = b.nkeys))
   -- of two identical indexes, report only one (keep the lower oid)
   and not (a.nkeys = b.nkeys and a.indisunique = b.indisunique and a.indexrelid < b.indexrelid)
 order by 1, 2, 3

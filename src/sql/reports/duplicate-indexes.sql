-- Pairs of valid indexes on the same table with the same access method, predicate and
-- expressions, where the key columns (with operator classes, collations and sort options)
-- of one (a, reported) are a leading prefix of the other's (b, covered_by). A unique index
-- covered by a non-unique or longer one is not redundant (it enforces something), so it is
-- not reported; nor is an exclusion index. Of two identical indexes only one is reported:
-- the one that backs no constraint, else the newer (higher oid). `constraint` names the
-- primary-key/unique constraint the reported index backs (drop that, not the index).
with ix as (
  select i.indexrelid, i.indrelid, i.indisunique, i.indisprimary, i.indisexclusion, c.relam,
         i.indkey::int2[] as keys, i.indclass::oid[] as classes, i.indcollation::oid[] as colls, i.indoption::int2[] as opts,
         coalesce(pg_get_expr(i.indpred, i.indrelid), '') as pred, coalesce(pg_get_expr(i.indexprs, i.indrelid), '') as exprs,
         i.indnkeyatts as nkeys,
         (select k.conname from pg_constraint k
           where k.conindid = i.indexrelid and k.conrelid = i.indrelid and k.contype in ('p', 'u', 'x')) as con
    from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
   where i.indisvalid and n.nspname not in ('pg_catalog', 'information_schema', 'boosterz_db') and n.nspname not like 'pg\_toast%'
)
select distinct on (n.nspname, t.relname, a.indexrelid) n.nspname as schema, t.relname as "table",
       (select relname from pg_class where oid = a.indexrelid) as index,
       (select relname from pg_class where oid = b.indexrelid) as covered_by,
       a.con as "constraint",
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
   and not a.indisprimary and not a.indisexclusion
   and (not a.indisunique or (b.indisunique and a.nkeys = b.nkeys))
   -- a strict prefix never backs a constraint (only unique/exclusion ones do, excluded above)
   and (a.nkeys < b.nkeys or a.indisunique <> b.indisunique
        -- identical: report the one that backs no constraint, else the newer
        or (a.con is null and b.con is not null)
        or ((a.con is null) = (b.con is null) and a.indexrelid > b.indexrelid))
 -- one line per redundant index: named after the covering index that a constraint backs, else the shortest, else the oldest
 order by n.nspname, t.relname, a.indexrelid, b.con is null, b.nkeys, b.indexrelid

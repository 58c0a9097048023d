-- One row per catalog object of the application's schemas (not pg_*, information_schema
-- or boosterz_db): a stable key and a text value that changes when the object does.
with app_ns as (
  select oid, nspname from pg_namespace
   where nspname not in ('pg_catalog', 'information_schema', 'boosterz_db')
     and nspname not like 'pg\_toast%' and nspname not like 'pg\_temp%'
)
select 'schema ' || quote_ident(n.nspname) as key, ''::text as value from app_ns n
union all
select 'extension ' || e.extname, n.nspname::text from pg_extension e join pg_namespace n on n.oid = e.extnamespace
 where e.extname <> 'plpgsql'
union all
select case c.relkind when 'r' then 'table ' when 'p' then 'table ' when 'v' then 'view ' when 'm' then 'materialized view '
                      when 'S' then 'sequence ' when 'f' then 'foreign table ' else 'relation ' end
       || quote_ident(n.nspname) || '.' || quote_ident(c.relname),
       case c.relkind when 'v' then pg_get_viewdef(c.oid, true)
                      when 'm' then pg_get_viewdef(c.oid, true) || case when c.relispopulated then ' [populated]' else ' [NOT populated]' end
                      else '' end
  from pg_class c join app_ns n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
union all
select 'column ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(a.attname),
       format_type(a.atttypid, a.atttypmod)
       || case when a.attnotnull then ' not null' else '' end
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
       || case a.attidentity when 'a' then ' identity always' when 'd' then ' identity by default' else '' end
       || case a.attgenerated when 's' then ' generated stored' else '' end
  from pg_attribute a join pg_class c on c.oid = a.attrelid join app_ns n on n.oid = c.relnamespace
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
 where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v', 'm', 'f')
union all
select 'constraint ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(k.conname),
       pg_get_constraintdef(k.oid, true) || case when k.convalidated then '' else ' [NOT VALIDATED]' end
  from pg_constraint k join pg_class c on c.oid = k.conrelid join app_ns n on n.oid = c.relnamespace
union all
select 'index ' || quote_ident(n.nspname) || '.' || quote_ident(ic.relname),
       pg_get_indexdef(i.indexrelid) || case when i.indisvalid then '' else ' [INVALID]' end
  from pg_index i join pg_class ic on ic.oid = i.indexrelid join app_ns n on n.oid = ic.relnamespace
union all
select 'function ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       pg_get_functiondef(p.oid)
  from pg_proc p join app_ns n on n.oid = p.pronamespace
 where p.prokind in ('f', 'p', 'w')
   and not exists (select 1 from pg_depend dep where dep.objid = p.oid and dep.deptype = 'e')
union all
select 'trigger ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(t.tgname),
       pg_get_triggerdef(t.oid, true) || case t.tgenabled when 'D' then ' [DISABLED]' else '' end
  from pg_trigger t join pg_class c on c.oid = t.tgrelid join app_ns n on n.oid = c.relnamespace
 where not t.tgisinternal
union all
select 'type ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname), t.typtype::text
  from pg_type t join app_ns n on n.oid = t.typnamespace
 where t.typtype in ('e', 'd', 'c') and not exists (select 1 from pg_class c where c.oid = t.typrelid and c.relkind <> 'c')
   and not exists (select 1 from pg_depend dep where dep.objid = t.oid and dep.deptype = 'e')
order by 1

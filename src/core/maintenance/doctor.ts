import type { Sql } from '../../db/connection.js';
import { sqlState } from '../../errors.js';
import { TOOL_SCHEMA, quoteIdent } from '../../db/sql.js';

export type Verdict = 'ok' | 'advice' | 'problem';

export interface DoctorLine {
  topic: string;
  verdict: Verdict;
  message: string;
}

const MB = 1024 * 1024;
const GB = 1024 * MB;

/** Bytes of a memory setting as pg_settings reports it (a count of `unit`). */
function settingBytes(setting: string, unit: string | null): number {
  const unitBytes: Record<string, number> = { B: 1, kB: 1024, '8kB': 8192, MB, GB };
  return Number(setting) * (unitBytes[unit ?? 'B'] ?? 1);
}

const fmt = (b: number) => (b >= GB ? `${+(b / GB).toFixed(1)}GB` : `${Math.round(b / MB)}MB`);

type Add = (topic: string, verdict: Verdict, message: string) => void;

const PRELOAD = 'add pg_stat_statements to shared_preload_libraries in postgresql.conf and restart';

/** pg_stat_statements: available, preloaded (read from pg_settings, hidden without pg_read_all_settings), installed here. */
async function extensionLines(sql: Sql, add: Add): Promise<void> {
  const [ext] = await sql<{ preloaded: boolean | null; schema: string | null; available: boolean }[]>`
    select (select 'pg_stat_statements' = any(string_to_array(replace(s.setting, ' ', ''), ',')) from pg_settings s where s.name = 'shared_preload_libraries') as preloaded,
           (select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_stat_statements') as schema,
           exists (select 1 from pg_available_extensions where name = 'pg_stat_statements') as available`;
  let preloaded = ext.preloaded;
  if (preloaded === null && ext.schema) {
    // this role may not read shared_preload_libraries: the view answers only when the library is loaded
    try {
      await sql.unsafe(`select count(*) from (select 1 from ${quoteIdent(ext.schema)}.pg_stat_statements limit 1) s`);
      preloaded = true;
    } catch (err) {
      if (sqlState(err) === '55000') preloaded = false;
    }
  }
  if (!ext.available && !ext.schema)
    add(
      'pg_stat_statements',
      'advice',
      'not available on this server: install the PostgreSQL contrib package, then ' +
        PRELOAD +
        ' (report slow-queries and slow_queries_monitor need it)',
    );
  else if (preloaded === false)
    add(
      'pg_stat_statements',
      'advice',
      `not in shared_preload_libraries: ${PRELOAD}${ext.schema ? '' : ', then CREATE EXTENSION pg_stat_statements'} (report slow-queries fails and slow_queries_monitor is empty until then)`,
    );
  else if (!ext.schema)
    add(
      'pg_stat_statements',
      'advice',
      `${preloaded ? 'preloaded but ' : ''}not installed in this database: CREATE EXTENSION pg_stat_statements${preloaded ? '' : ' (and check it is in shared_preload_libraries: this role cannot read that setting)'}`,
    );
  else if (preloaded === null)
    add('pg_stat_statements', 'advice', 'installed; whether it is preloaded cannot be read by this role (needs pg_read_all_settings)');
  else add('pg_stat_statements', 'ok', 'preloaded and installed: slow-query reports work');
}

interface Privileges {
  user: string;
  superuser: boolean;
  history_exists: boolean;
  create_db: boolean;
  history_ok: boolean;
  create_public: boolean;
  not_owned: string[];
  matviews: string[];
  matviews_denied: string[];
  marks_ok: boolean | null;
  cleanup_denied: string[];
  read_stats: boolean;
  read_settings: boolean;
}

/** What the current role may do, for each thing the tool does (migrate, refresh-views, cleanup, reports). */
async function privilegeLines(sql: Sql, major: number, add: Add): Promise<void> {
  // MAINTAIN (17+) lets a non-owner refresh a materialized view; the privilege name is unknown before
  const maintain = major >= 17 ? sql`has_table_privilege(c.oid, 'MAINTAIN')` : sql`false`;
  const [p] = await sql<Privileges[]>`
    with mv as (
      select format('%I.%I', n.nspname, c.relname) as name, pg_has_role(current_user, c.relowner, 'USAGE') or ${maintain} as ok
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where c.relkind = 'm' and n.nspname not in ('pg_catalog', 'information_schema', ${TOOL_SCHEMA})
    )
    select current_user as user, r.rolsuper as superuser,
           to_regnamespace(${TOOL_SCHEMA}) is not null as history_exists,
           has_database_privilege(current_database(), 'CREATE') as create_db,
           to_regnamespace(${TOOL_SCHEMA}) is not null
             and has_schema_privilege(${TOOL_SCHEMA}, 'USAGE') and has_schema_privilege(${TOOL_SCHEMA}, 'CREATE')
             and not exists (select 1 from pg_tables t where t.schemaname = ${TOOL_SCHEMA}
                              and not (has_table_privilege(format('%I.%I', t.schemaname, t.tablename), 'SELECT')
                                       and has_table_privilege(format('%I.%I', t.schemaname, t.tablename), 'INSERT')
                                       and has_table_privilege(format('%I.%I', t.schemaname, t.tablename), 'UPDATE')
                                       and has_table_privilege(format('%I.%I', t.schemaname, t.tablename), 'DELETE'))) as history_ok,
           coalesce(has_schema_privilege('public', 'CREATE'), false) as create_public,
           array(select t.tablename::text from pg_tables t where t.schemaname = 'public' and not pg_has_role(current_user, t.tableowner, 'USAGE') order by 1) as not_owned,
           array(select name from mv order by 1) as matviews,
           array(select name from mv where not ok order by 1) as matviews_denied,
           case when to_regclass('materialized_view_stale_marks') is null then null
                else has_table_privilege(to_regclass('materialized_view_stale_marks'), 'SELECT')
                     and has_table_privilege(to_regclass('materialized_view_stale_marks'), 'DELETE') end as marks_ok,
           array(select t from unnest(array['notifications', 'sessions', 'activity_log']) t
                  where to_regclass(t) is not null
                    and not (has_table_privilege(to_regclass(t), 'SELECT') and has_table_privilege(to_regclass(t), 'UPDATE') and has_table_privilege(to_regclass(t), 'DELETE'))) as cleanup_denied,
           pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') as read_stats,
           pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') as read_settings
      from pg_roles r where r.rolname = current_user`;
  const pr = p;
  if (pr.superuser) return add('privileges', 'ok', `${pr.user} is a superuser`);
  if (pr.history_exists) {
    add(
      'privileges: history schema',
      pr.history_ok ? 'ok' : 'problem',
      pr.history_ok
        ? `${pr.user} can use and write the ${TOOL_SCHEMA} schema`
        : `${pr.user} cannot use or write the history schema ${TOOL_SCHEMA} (GRANT USAGE, CREATE ON SCHEMA ${TOOL_SCHEMA} and SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${TOOL_SCHEMA} TO ${pr.user})`,
    );
  } else {
    add(
      'privileges: history schema',
      pr.create_db ? 'ok' : 'problem',
      pr.create_db
        ? `${pr.user} can create the ${TOOL_SCHEMA} schema`
        : `${pr.user} cannot CREATE in this database: the history schema ${TOOL_SCHEMA} cannot be created (GRANT CREATE ON DATABASE … TO ${pr.user})`,
    );
  }
  add(
    'privileges: schema public',
    pr.create_public ? 'ok' : 'problem',
    pr.create_public
      ? 'can create indexes, views and functions in public'
      : `${pr.user} cannot CREATE in schema public: migrate will fail (GRANT CREATE ON SCHEMA public TO ${pr.user})`,
  );
  add(
    'privileges: table ownership',
    pr.not_owned.length === 0 ? 'ok' : 'problem',
    pr.not_owned.length === 0
      ? 'owns every table of public (ALTER TABLE / CREATE INDEX need it)'
      : `${pr.not_owned.length} table(s) of public are owned by another role (${pr.not_owned.slice(0, 5).join(', ')}${pr.not_owned.length > 5 ? ', …' : ''}): ALTER TABLE and CREATE INDEX on them will fail`,
  );
  if (pr.matviews.length) {
    const ok = !pr.matviews_denied.length && pr.marks_ok !== false;
    add(
      'privileges: refresh-views',
      ok ? 'ok' : 'problem',
      ok
        ? `can refresh ${pr.matviews.length} materialized view(s)`
        : [
            pr.matviews_denied.length
              ? `neither owns nor${major >= 17 ? ' holds MAINTAIN on' : ' (17+) may MAINTAIN'} ${pr.matviews_denied.join(', ')}`
              : '',
            pr.marks_ok === false ? `cannot read and clear materialized_view_stale_marks (GRANT SELECT, DELETE)` : '',
          ]
            .filter(Boolean)
            .join('; '),
    );
  }
  if (pr.cleanup_denied.length)
    add(
      'privileges: cleanup',
      'problem',
      `needs SELECT, UPDATE, DELETE on ${pr.cleanup_denied.join(', ')} (GRANT SELECT, UPDATE, DELETE ON ${pr.cleanup_denied.join(', ')} TO ${pr.user})`,
    );
  else add('privileges: cleanup', 'ok', 'can delete what the retention policy removes');
  add(
    'privileges: statistics',
    pr.read_stats ? 'ok' : 'advice',
    pr.read_stats
      ? 'can see every session and statement (pre-flight, blockers, slow queries)'
      : "not in pg_read_all_stats: pre-flight, blocker and slow-query reports cannot see other roles' queries",
  );
  if (!pr.read_settings)
    add(
      'privileges: settings',
      'advice',
      'not in pg_read_all_settings: shared_preload_libraries cannot be read (GRANT pg_read_all_settings TO ' + pr.user + ')',
    );
}

/**
 * The roles that write to the app's tables (from the tables' ACLs), and whether the migrated
 * objects still let each do what it did: writes that fire the freshness trigger (which runs
 * as its owner when SECURITY DEFINER), reads of the materialized views through get_user_stats().
 */
async function applicationRoleLines(sql: Sql, add: (topic: string, verdict: Verdict, message: string) => void): Promise<void> {
  const rows = await sql<
    { role: string; writes: string[]; definer: boolean | null; marks: boolean | null; views: boolean | null; readsSources: boolean }[]
  >`
    with writers as (
      select distinct case when a.grantee = 0 then 'public' else r.rolname::text end as role, c.relname::text as tab
        from pg_class c join pg_namespace n on n.oid = c.relnamespace and n.nspname = 'public'
       cross join lateral aclexplode(c.relacl) a
        left join pg_roles r on r.oid = a.grantee
       where c.relkind in ('r', 'p') and a.privilege_type in ('INSERT', 'UPDATE', 'DELETE') and a.grantee <> c.relowner and (a.grantee = 0 or not r.rolsuper)
    ), fn as (select p.prosecdef from pg_proc p
               where p.oid = coalesce(to_regprocedure('public.mark_materialized_view_rows_stale()'),
                                      to_regprocedure('public.mark_materialized_views_stale()')))
    select w.role, array_agg(w.tab order by w.tab) as writes,
           (select prosecdef from fn) as definer,
           case when to_regclass('public.materialized_view_stale_marks') is null then null
                else has_table_privilege(w.role, 'public.materialized_view_stale_marks', 'SELECT, INSERT, UPDATE') end as marks,
           case when to_regclass('public.user_stats_optimized') is null then null
                else has_table_privilege(w.role, 'public.user_stats_optimized', 'SELECT') end as views,
           bool_and(has_table_privilege(w.role, ('public.' || quote_ident(w.tab))::regclass, 'SELECT')) as "readsSources"
      from writers w group by w.role order by w.role`;
  for (const r of rows) {
    const problems: string[] = [];
    if (r.definer === false && r.marks === false)
      problems.push('its writes fire the freshness trigger function with its own rights but it cannot write materialized_view_stale_marks');
    if (r.views === false && r.readsSources)
      problems.push(
        'it reads the tables user_stats_optimized is computed from but not the view (get_user_stats() fails for it): rerun the GRANT of 0004',
      );
    const what = `${r.role} writes ${r.writes.length} table(s) (${r.writes.slice(0, 4).join(', ')}${r.writes.length > 4 ? ', …' : ''})`;
    const fine = [r.definer ? 'the freshness trigger runs as its owner' : '', r.views ? 'reads the materialized views' : '']
      .filter(Boolean)
      .join(', ');
    add(
      `privileges: role ${r.role}`,
      problems.length ? 'problem' : 'ok',
      problems.length ? `${what}: ${problems.join('; ')}` : `${what}${fine ? `; ${fine}` : ''}`,
    );
  }
}

export interface DoctorOptions {
  /** Server RAM in bytes, to scale memory advice; undefined: use the guide's absolute values. */
  serverMemory?: number;
}

/**
 * Server version, extensions, the current role's privileges for what the tool does, and the
 * guide's postgresql.conf recommendations against current values (memory scaled to the
 * server's RAM when it is known).
 */
export async function doctor(sql: Sql, o: DoctorOptions = {}): Promise<DoctorLine[]> {
  const out: DoctorLine[] = [];
  const add = (topic: string, verdict: Verdict, message: string) => out.push({ topic, verdict, message });
  const [v] = await sql<
    { num: number; version: string }[]
  >`select current_setting('server_version_num')::int as num, current_setting('server_version') as version`;
  const major = Math.floor(v.num / 10000);
  add(
    'server version',
    major >= 14 && major <= 18 ? 'ok' : major < 14 ? 'problem' : 'advice',
    major >= 14 && major <= 18
      ? `PostgreSQL ${v.version}`
      : major < 14
        ? `PostgreSQL ${v.version}: the migrations need 14 or newer`
        : `PostgreSQL ${v.version}: newer than the tested 14–18`,
  );

  await extensionLines(sql, add);
  await privilegeLines(sql, major, add);
  await applicationRoleLines(sql, add);

  const settings = new Map(
    (
      await sql<{ name: string; setting: string; unit: string | null }[]>`
    select name, setting, unit from pg_settings where name in ('shared_buffers', 'effective_cache_size', 'work_mem', 'checkpoint_completion_target', 'log_min_duration_statement', 'max_connections')`
    ).map((s) => [s.name, s]),
  );
  const bytes = (n: string) => settingBytes(settings.get(n)!.setting, settings.get(n)!.unit);
  const mem = o.serverMemory;
  const memoryLine = (name: string, guide: number, fraction: number, why: string) => {
    const want = mem ? mem * fraction : guide;
    const have = bytes(name);
    const basis = mem ? `${Math.round(fraction * 100)}% of ${fmt(mem)} RAM` : `the guide's ${fmt(guide)}; pass --server-memory to scale it`;
    if (have >= want * 0.8 && have <= want * 1.5) add(name, 'ok', `${fmt(have)} (recommended ${fmt(want)}: ${basis})`);
    else add(name, 'advice', `${fmt(have)}, recommended ${fmt(want)} (${basis}): ${why}`);
  };
  memoryLine('shared_buffers', 512 * MB, 0.25, "PostgreSQL's own cache");
  memoryLine('effective_cache_size', 2 * GB, 0.75, 'what the planner assumes the OS caches; too low and it avoids index scans');
  const wm = bytes('work_mem');
  const conns = Number(settings.get('max_connections')!.setting);
  if (wm >= 32 * MB && (!mem || wm * conns <= mem)) add('work_mem', 'ok', `${fmt(wm)} (guide: 32MB)`);
  else if (wm >= 32 * MB)
    add('work_mem', 'advice', `${fmt(wm)} × max_connections ${conns} exceeds ${fmt(mem!)} RAM if every connection sorts at once`);
  else add('work_mem', 'advice', `${fmt(wm)}, guide: 32MB (sorts and hashes of the feed and stats queries spill to disk below that)`);
  const cct = Number(settings.get('checkpoint_completion_target')!.setting);
  add(
    'checkpoint_completion_target',
    cct >= 0.9 ? 'ok' : 'advice',
    cct >= 0.9 ? `${cct}` : `${cct}, guide: 0.9 (spreads checkpoint writes)`,
  );
  const lmd = Number(settings.get('log_min_duration_statement')!.setting);
  add(
    'log_min_duration_statement',
    lmd > 0 && lmd <= 1000 ? 'ok' : 'advice',
    lmd < 0
      ? 'disabled, guide: 1000 ms (log statements slower than 1 s)'
      : lmd === 0
        ? '0 ms: every statement is logged (heavy on a busy server), guide: 1000 ms'
        : `${lmd} ms${lmd > 1000 ? ', guide: 1000 ms' : ''}`,
  );
  return out;
}

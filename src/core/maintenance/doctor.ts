import type { Sql } from '../../db/connection.js';

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
  const [v] = await sql<{ num: number; version: string }[]>`select current_setting('server_version_num')::int as num, current_setting('server_version') as version`;
  const major = Math.floor(v!.num / 10000);
  add('server version', major >= 14 && major <= 18 ? 'ok' : major < 14 ? 'problem' : 'advice',
    major >= 14 && major <= 18 ? `PostgreSQL ${v!.version}` : major < 14 ? `PostgreSQL ${v!.version}: the migrations need 14 or newer` : `PostgreSQL ${v!.version}: newer than the tested 14–18`);

  const [ext] = await sql<{ preloaded: boolean; installed: boolean; available: boolean }[]>`
    select 'pg_stat_statements' = any(string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) as preloaded,
           exists (select 1 from pg_extension where extname = 'pg_stat_statements') as installed,
           exists (select 1 from pg_available_extensions where name = 'pg_stat_statements') as available`;
  if (ext!.preloaded && ext!.installed) add('pg_stat_statements', 'ok', 'preloaded and installed: slow-query reports work');
  else if (!ext!.preloaded) add('pg_stat_statements', 'advice', `not in shared_preload_libraries: add it and restart${ext!.installed ? '' : ', then CREATE EXTENSION pg_stat_statements'} (slow_queries_monitor is empty until then)`);
  else add('pg_stat_statements', 'advice', 'preloaded but not installed here: CREATE EXTENSION pg_stat_statements');

  const [p] = await sql<{ superuser: boolean; create_db: boolean; create_schema: boolean; not_owned: number; read_stats: boolean; signal: boolean; user: string }[]>`
    select r.rolsuper as superuser, current_user as user,
           has_database_privilege(current_database(), 'CREATE') as create_db,
           has_schema_privilege('public', 'CREATE') as create_schema,
           (select count(*)::int from pg_tables t where t.schemaname = 'public' and not pg_has_role(current_user, t.tableowner, 'USAGE')) as not_owned,
           pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') as read_stats,
           pg_has_role(current_user, 'pg_signal_backend', 'USAGE') as signal
      from pg_roles r where r.rolname = current_user`;
  const pr = p!;
  if (pr.superuser) add('privileges', 'ok', `${pr.user} is a superuser`);
  else {
    add('privileges: history schema', pr.create_db ? 'ok' : 'problem', pr.create_db ? `${pr.user} can create the boosterz_db schema` : `${pr.user} cannot CREATE in this database: the history schema boosterz_db cannot be created (GRANT CREATE ON DATABASE … TO ${pr.user})`);
    add('privileges: schema public', pr.create_schema ? 'ok' : 'problem', pr.create_schema ? 'can create indexes, views and functions in public' : `${pr.user} cannot CREATE in schema public`);
    add('privileges: table ownership', pr.not_owned === 0 ? 'ok' : 'problem', pr.not_owned === 0 ? 'owns every table of public (ALTER TABLE / CREATE INDEX need it)' : `${pr.not_owned} table(s) of public are owned by another role: ALTER TABLE and CREATE INDEX on them will fail`);
    add('privileges: statistics', pr.read_stats ? 'ok' : 'advice', pr.read_stats ? 'can see every session (pre-flight, blockers)' : 'not in pg_read_all_stats: pre-flight and blocker reports cannot see other roles\' queries');
  }

  const settings = new Map((await sql<{ name: string; setting: string; unit: string | null }[]>`
    select name, setting, unit from pg_settings where name in ('shared_buffers', 'effective_cache_size', 'work_mem', 'checkpoint_completion_target', 'log_min_duration_statement', 'max_connections')`).map((s) => [s.name, s]));
  const bytes = (n: string) => settingBytes(settings.get(n)!.setting, settings.get(n)!.unit);
  const mem = o.serverMemory;
  const memoryLine = (name: string, guide: number, fraction: number, why: string) => {
    const want = mem ? mem * fraction : guide;
    const have = bytes(name);
    const basis = mem ? `${Math.round(fraction * 100)}% of ${fmt(mem)} RAM` : `the guide's ${fmt(guide)}; pass --server-memory to scale it`;
    if (have >= want * 0.8 && have <= want * 1.5) add(name, 'ok', `${fmt(have)} (recommended ${fmt(want)}: ${basis})`);
    else add(name, 'advice', `${fmt(have)}, recommended ${fmt(want)} (${basis}): ${why}`);
  };
  memoryLine('shared_buffers', 512 * MB, 0.25, 'PostgreSQL\'s own cache');
  memoryLine('effective_cache_size', 2 * GB, 0.75, 'what the planner assumes the OS caches; too low and it avoids index scans');
  const wm = bytes('work_mem');
  const conns = Number(settings.get('max_connections')!.setting);
  if (wm >= 32 * MB && (!mem || wm * conns <= mem)) add('work_mem', 'ok', `${fmt(wm)} (guide: 32MB)`);
  else if (wm >= 32 * MB) add('work_mem', 'advice', `${fmt(wm)} × max_connections ${conns} exceeds ${fmt(mem!)} RAM if every connection sorts at once`);
  else add('work_mem', 'advice', `${fmt(wm)}, guide: 32MB (sorts and hashes of the feed and stats queries spill to disk below that)`);
  const cct = Number(settings.get('checkpoint_completion_target')!.setting);
  add('checkpoint_completion_target', cct >= 0.9 ? 'ok' : 'advice', cct >= 0.9 ? `${cct}` : `${cct}, guide: 0.9 (spreads checkpoint writes)`);
  const lmd = Number(settings.get('log_min_duration_statement')!.setting);
  add('log_min_duration_statement', lmd >= 0 && lmd <= 1000 ? 'ok' : 'advice', lmd < 0 ? 'disabled, guide: 1000 ms (log statements slower than 1 s)' : `${lmd} ms${lmd > 1000 ? ', guide: 1000 ms' : ''}`);
  return out;
}

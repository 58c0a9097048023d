import postgres from 'postgres';
import { BoosterzError, ExitCode, isPgError } from '../errors.js';
import { maskUrl } from './mask.js';
import { splitSslParams, sslClientOptions, sslParamsFromEnv } from './ssl.js';
import { primaryForReadWrite, splitHosts, withDatabase } from './hosts.js';

export type Sql = postgres.Sql<Record<string, never>>;
export type ReservedSql = postgres.ReservedSql<Record<string, never>>;

/** Where to connect: a URL, or libpq-style fields from the PG* variables. */
export interface ConnectionTarget {
  url?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  sslmode?: string;
}

export interface ConnectOptions {
  /** e.g. `migrate`; the session shows as `boosterz-db/migrate` in pg_stat_activity. */
  command: string;
  /** Seconds to wait for the server to answer. */
  connectTimeout?: number;
  max?: number;
  onNotice?: (message: string) => void;
  /** Seconds the first query may take (openClient) before the port is taken for one that does not speak PostgreSQL. */
  firstAnswerSec?: number;
  /** Settings sent in the startup packet (see openClient); none by default. */
  startup?: Record<string, string>;
}

/** --database-url, else DATABASE_URL, else the libpq variables. */
export function resolveTarget(url: string | undefined, env: NodeJS.ProcessEnv = process.env): ConnectionTarget {
  if (url) return { url: normalizeUrl(url) };
  if (env.DATABASE_URL) return { url: normalizeUrl(env.DATABASE_URL) };
  return {
    host: env.PGHOST,
    port: env.PGPORT ? Number(env.PGPORT) : undefined,
    user: env.PGUSER,
    password: env.PGPASSWORD,
    database: env.PGDATABASE,
    sslmode: env.PGSSLMODE,
  };
}

/**
 * A URL as the driver takes it: a `password` query parameter (which libpq accepts) moves into
 * the user-info part, where it is masked and used; user and password must be valid
 * percent-encoding (else a usage error, the URL masked).
 */
export function normalizeUrl(url: string): string {
  const m = /^(postgres(?:ql)?:\/\/)([^/?#]*@)?([^?#]*)(\?[^#]*)?(#.*)?$/i.exec(url);
  if (!m) return url; // not a postgres URL: createClient says so
  const [, scheme, userinfo = '', rest, query = '', fragment = ''] = m;
  for (const part of userinfo.slice(0, -1).split(':')) {
    try {
      decodeURIComponent(part);
    } catch {
      throw new BoosterzError(`invalid database URL: ${maskUrl(url)} (bad percent-encoding in the user or password)`, ExitCode.usage);
    }
  }
  const params = new URLSearchParams(query.slice(1));
  const password = params.get('password');
  if (password === null) return url;
  params.delete('password');
  const user = userinfo ? userinfo.slice(0, -1).split(':')[0] : encodeURIComponent(params.get('user') ?? '');
  if (!userinfo) params.delete('user');
  const q = params.toString();
  return `${scheme}${user}:${encodeURIComponent(password)}@${rest}${q ? `?${q}` : ''}${fragment}`;
}

/** The same server and credentials, another database. */
export function onDatabase(t: ConnectionTarget, database: string): ConnectionTarget {
  if (!t.url) return { ...t, database };
  return { url: withDatabase(t.url, database) };
}

/** The password of a target, so output can be scrubbed of it. */
export function secretOf(t: ConnectionTarget): string | undefined {
  if (t.password) return t.password;
  if (!t.url) return undefined;
  try {
    const p = new URL(splitHosts(t.url).single).password;
    return p ? decodeURIComponent(p) : undefined;
  } catch {
    return undefined;
  }
}

export { maskUrl };

/** Human description of where we connect, password masked. */
export function describeTarget(t: ConnectionTarget): string {
  if (t.url) return maskUrl(t.url);
  const host = t.host ?? 'localhost';
  return `postgres://${t.user ?? ''}${t.password ? ':****' : ''}@${host}:${t.port ?? 5432}/${t.database ?? t.user ?? ''}`;
}

/** A postgres.js client with the tool's session defaults. Nothing connects until the first query. */
export function createClient(t: ConnectionTarget, o: ConnectOptions): Sql {
  const common = {
    max: o.max ?? 4,
    prepare: false,
    connect_timeout: o.connectTimeout ?? 10,
    idle_timeout: 30,
    onnotice: (n: postgres.Notice) => o.onNotice?.(String(n.message ?? '')),
    connection: { ...o.startup, application_name: `boosterz-db/${o.command}` },
  };
  if (t.url) {
    let ssl: ReturnType<typeof splitSslParams>;
    try {
      ssl = splitSslParams(t.url);
    } catch {
      throw new BoosterzError(`invalid database URL: ${maskUrl(t.url)}`, ExitCode.usage);
    }
    if (!/^postgres(ql)?:\/\//i.test(t.url))
      throw new BoosterzError(
        `invalid database URL: ${maskUrl(t.url)} (expected postgres://user:password@host:port/database)`,
        ExitCode.usage,
      );
    return postgres(primaryForReadWrite(ssl.url), { ...common, ...sslClientOptions(ssl.params) });
  }
  return postgres({
    ...common,
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password,
    database: t.database,
    ...(process.env.PGTARGETSESSIONATTRS === 'read-write' ? { target_session_attrs: 'primary' as const } : {}),
    ...sslClientOptions(sslParamsFromEnv(t.sslmode)),
  });
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'SASL_SIGNATURE_MISMATCH',
  'NO_POSTGRES_ANSWER',
]);
const AUTH_STATES = new Set(['28P01', '28000', '3D000', '57P03', '53300']);

/** Turns a failure to reach or log in to the server into exit 3; anything else is returned as is. */
export function connectionError(err: unknown, t: ConnectionTarget): unknown {
  const code = (err as { code?: string }).code;
  if (code && (CONNECT_CODES.has(code) || (isPgError(err) && AUTH_STATES.has(code)))) {
    const msg = scrub((err as Error).message, t);
    return new BoosterzError(
      `cannot connect to ${describeTarget(t)}: ${msg}`,
      ExitCode.connection,
      ['check --database-url / DATABASE_URL / PG* variables, that the server runs and accepts this user'],
      {},
      { cause: err },
    );
  }
  return err;
}

/** Removes the target's password from a message. */
export function scrub(text: string, t: ConnectionTarget): string {
  let out = text;
  const secret = secretOf(t);
  if (secret) out = out.split(secret).join('****').split(encodeURIComponent(secret)).join('****');
  return maskUrl(out);
}

/** Opens a client, checks it answers, runs fn, and always closes it. */
export async function withClient<T>(t: ConnectionTarget, o: ConnectOptions, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const { sql } = await openClient(t, o);
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 }).catch(() => undefined);
  }
}

/**
 * What every session of the tool relies on, whatever the role's or database's defaults
 * (ALTER ROLE/DATABASE … SET): no server-side timeout cuts a long index build, an idle lock
 * session or a daemon between ticks; writes are allowed; names resolve in `public` only
 * (never a schema named after the role); the statement of a client that has died is ended by
 * the server. Settings the server does not know (e.g. transaction_timeout before PostgreSQL 17)
 * are skipped.
 */
export const SESSION_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['statement_timeout', '0'],
  ['lock_timeout', '0'],
  ['idle_in_transaction_session_timeout', '0'],
  ['idle_session_timeout', '0'],
  ['transaction_timeout', '0'],
  ['default_transaction_read_only', 'off'],
  ['search_path', 'public'],
  // PostgreSQL 14+: a statement whose client has gone (kill -9, a closed laptop) is ended within a second
  ['client_connection_check_interval', '1000'],
];

/** Applies SESSION_SETTINGS to one connection (session level: they outlive transactions). */
export async function configureSession(conn: Sql | ReservedSql): Promise<void> {
  const names = SESSION_SETTINGS.map(([n]) => n);
  const values = SESSION_SETTINGS.map(([, v]) => v);
  await conn`
    select set_config(s.name, v.value, false)
      from unnest(${names}::text[], ${values}::text[]) as v(name, value)
      join pg_settings s on s.name = v.name`;
}

/** A refusal of a startup setting: the server does not know it (older major), or a pooler does not pass it on. */
function refusedStartupSetting(err: unknown, names: string[]): string | undefined {
  // a setting's name, or 'pooler' when a pooler refuses startup settings altogether
  const msg = String((err as Error)?.message ?? '');
  if (/unsupported startup parameter/i.test(msg)) return 'pooler';
  if (sqlStateOf(err) === '42704') return names.find((n) => msg.includes(`"${n}"`));
  return undefined;
}

const sqlStateOf = (err: unknown) => (isPgError(err) ? err.code : undefined);

/**
 * Opens a checked client whose every connection starts with SESSION_SETTINGS in its startup
 * packet (they then outrank ALTER ROLE / ALTER DATABASE … SET, and survive reconnects). A
 * setting the server does not know is dropped; a pooler that refuses startup settings
 * (PgBouncer) gets none, and `pooler` says so: sessions then rely on configureSession.
 */
export async function openClient(t: ConnectionTarget, o: ConnectOptions): Promise<{ sql: Sql; pooler: boolean }> {
  let startup: Record<string, string> = Object.fromEntries(SESSION_SETTINGS);
  // the driver's connect timeout ends a silent host, not a port that answers with another
  // protocol (an HTTP proxy, a service on the wrong port): the driver then waits for ever
  const answerSec = o.firstAnswerSec ?? Math.max(FIRST_ANSWER_SEC, 3 * (o.connectTimeout ?? 10));
  for (;;) {
    const sql = createClient(t, { ...o, startup });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        sql`select 1`,
        new Promise((_, rej) => {
          timer = setTimeout(() => rej(Object.assign(new Error(noAnswer(answerSec)), { code: 'NO_POSTGRES_ANSWER' })), answerSec * 1000);
        }),
      ]);
      return { sql, pooler: Object.keys(startup).length === 0 };
    } catch (err) {
      if ((err as { code?: string }).code === 'NO_POSTGRES_ANSWER') void sql.end({ timeout: 0 }).catch(() => undefined);
      else await sql.end({ timeout: 1 }).catch(() => undefined);
      const refused = refusedStartupSetting(err, Object.keys(startup));
      if (!refused) throw connectionError(err, t);
      if (refused === 'pooler') startup = {};
      else startup = Object.fromEntries(Object.entries(startup).filter(([n]) => n !== refused));
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Seconds the first query may take before the port is taken for one that does not speak PostgreSQL. */
const FIRST_ANSWER_SEC = 30;
const noAnswer = (sec: number) =>
  `no PostgreSQL answer within ${sec} s: the port accepts connections but does not answer as a PostgreSQL server (or, behind a pooler, no server connection came free)`;

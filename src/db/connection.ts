import postgres from 'postgres';
import { BoosterzError, ExitCode, isPgError } from '../core/errors.js';

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
}

/** --database-url, else DATABASE_URL, else the libpq variables. */
export function resolveTarget(url: string | undefined, env: NodeJS.ProcessEnv = process.env): ConnectionTarget {
  if (url) return { url };
  if (env.DATABASE_URL) return { url: env.DATABASE_URL };
  return {
    host: env.PGHOST,
    port: env.PGPORT ? Number(env.PGPORT) : undefined,
    user: env.PGUSER,
    password: env.PGPASSWORD,
    database: env.PGDATABASE,
    sslmode: env.PGSSLMODE,
  };
}

/** The same server and credentials, another database. */
export function onDatabase(t: ConnectionTarget, database: string): ConnectionTarget {
  if (!t.url) return { ...t, database };
  const u = new URL(t.url);
  u.pathname = `/${database}`;
  return { url: u.toString() };
}

/** The password of a target, so output can be scrubbed of it. */
export function secretOf(t: ConnectionTarget): string | undefined {
  if (t.password) return t.password;
  if (!t.url) return undefined;
  try {
    const p = new URL(t.url).password;
    return p ? decodeURIComponent(p) : undefined;
  } catch {
    return undefined;
  }
}

/** Replaces the password of any postgres URL in text with ****. */
export function maskUrl(text: string): string {
  // the password runs to the last '@' of the URL (a password may contain '@')
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)(\S*)(@)/gi, (_m, a, _p, c) => `${a}****${c}`);
}

/** Human description of where we connect, password masked. */
export function describeTarget(t: ConnectionTarget): string {
  if (t.url) return maskUrl(t.url);
  const host = t.host ?? 'localhost';
  return `postgres://${t.user ?? ''}${t.password ? ':****' : ''}@${host}:${t.port ?? 5432}/${t.database ?? t.user ?? ''}`;
}

function sslOption(mode: string | undefined): postgres.Options<{}>['ssl'] {
  switch (mode) {
    case undefined:
    case '':
    case 'disable':
      return false;
    case 'allow':
    case 'prefer':
    case 'require':
    case 'verify-full':
      return mode;
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    default:
      throw new BoosterzError(`unknown sslmode "${mode}" (disable, allow, prefer, require, verify-ca, verify-full)`, ExitCode.usage);
  }
}

/** A postgres.js client with the tool's session defaults. Nothing connects until the first query. */
export function createClient(t: ConnectionTarget, o: ConnectOptions): Sql {
  const common = {
    max: o.max ?? 4,
    prepare: false,
    connect_timeout: o.connectTimeout ?? 10,
    idle_timeout: 30,
    onnotice: (n: postgres.Notice) => o.onNotice?.(String(n.message ?? '')),
    connection: { application_name: `boosterz-db/${o.command}` },
  };
  if (t.url) {
    let sslmode: string | undefined;
    try {
      sslmode = new URL(t.url).searchParams.get('sslmode') ?? undefined;
    } catch {
      throw new BoosterzError(`invalid database URL: ${maskUrl(t.url)}`, ExitCode.usage);
    }
    if (!/^postgres(ql)?:\/\//i.test(t.url)) throw new BoosterzError(`invalid database URL: ${maskUrl(t.url)} (expected postgres://user:password@host:port/database)`, ExitCode.usage);
    return postgres(t.url, { ...common, ...(sslmode ? { ssl: sslOption(sslmode) } : {}) }) as unknown as Sql;
  }
  return postgres({ ...common, host: t.host, port: t.port, user: t.user, password: t.password, database: t.database, ssl: sslOption(t.sslmode) }) as unknown as Sql;
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'SASL_SIGNATURE_MISMATCH']);
const AUTH_STATES = new Set(['28P01', '28000', '3D000', '57P03', '53300']);

/** Turns a failure to reach or log in to the server into exit 3; anything else is returned as is. */
export function connectionError(err: unknown, t: ConnectionTarget): unknown {
  const code = (err as { code?: string }).code;
  if (code && (CONNECT_CODES.has(code) || (isPgError(err) && AUTH_STATES.has(code)))) {
    const msg = scrub((err as Error).message, t);
    return new BoosterzError(`cannot connect to ${describeTarget(t)}: ${msg}`, ExitCode.connection, [
      'check --database-url / DATABASE_URL / PG* variables, that the server runs and accepts this user',
    ]);
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
  const sql = createClient(t, o);
  try {
    try {
      await sql`select 1`;
    } catch (err) {
      throw connectionError(err, t);
    }
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 }).catch(() => undefined);
  }
}

/** Holds one dedicated connection for fn (session settings, advisory locks) and releases it. */
export async function withReserved<T>(sql: Sql, fn: (conn: ReservedSql) => Promise<T>): Promise<T> {
  const conn = await sql.reserve();
  try {
    return await fn(conn);
  } finally {
    try {
      conn.release();
    } catch {
      // the connection died (terminated, server restart): nothing to give back
    }
  }
}

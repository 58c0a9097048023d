import { join, resolve } from 'node:path';
import {
  createClient,
  describeTarget,
  openClient,
  onDatabase,
  resolveTarget,
  secretOf,
  type ConnectionTarget,
  type Sql,
} from '../db/connection.js';
import { sqlState } from '../errors.js';
import { detectPooling, poolerRefusal, serverRole, standbyRefusal, type ServerRole } from '../db/topology.js';
import { startEmbedded } from '../db/embedded.js';
import { addSecret, type Output, type GlobalFlags } from './output.js';

/** What a command gets from the entry point. */
export interface CommandContext {
  flags: GlobalFlags;
  out: Output;
  packageRoot: string;
  /** Fires on Ctrl-C / SIGTERM. */
  signal: AbortSignal;
  /** Registers cleanup that runs before exit, whatever happens. */
  onCleanup(fn: () => Promise<void>): void;
}

/** Runs a command's body with its context; the entry point turns the result or the error into the exit code. */
export type RunCommand = (fn: (ctx: CommandContext) => Promise<number | void>) => Promise<void>;

export function migrationDirs(ctx: CommandContext) {
  return {
    migrationsDir: resolve(ctx.flags.migrationsDir ?? join(ctx.packageRoot, 'migrations')),
    rollbackDir: resolve(ctx.flags.rollbackDir ?? join(ctx.packageRoot, 'rollback')),
  };
}

/** The database of the embedded default server (created on first use). */
const EMBEDDED_DB = 'boosterz';

/** A concurrent run on the same DIR created the database or extension first (duplicate_database, unique_violation). */
function createdMeanwhile(err: unknown): void {
  if (sqlState(err) !== '42P04' && sqlState(err) !== '23505') throw err;
}

async function embeddedTarget(ctx: CommandContext, dir: string): Promise<ConnectionTarget> {
  const srv = await startEmbedded({ dir, resolveFrom: ctx.packageRoot, log: (l) => ctx.out.info(l) });
  ctx.onCleanup(() => srv.stop());
  addSecret(decodeURIComponent(new URL(srv.url).password));
  const admin = createClient({ url: srv.url }, { command: 'embedded', max: 1 });
  try {
    const [row] = await admin<{ ok: boolean }[]>`select exists (select 1 from pg_database where datname = ${EMBEDDED_DB}) as ok`;
    if (!row.ok) await admin`create database ${admin(EMBEDDED_DB)}`.catch(createdMeanwhile);
  } finally {
    await admin.end({ timeout: 2 });
  }
  const target = onDatabase({ url: srv.url }, EMBEDDED_DB);
  // the library is preloaded; the extension makes `report slow-queries` work out of the box
  const db = createClient(target, { command: 'embedded', max: 1, onNotice: () => undefined });
  await db`create extension if not exists pg_stat_statements`.catch(createdMeanwhile).finally(() => db.end({ timeout: 2 }));
  return target;
}

/** Where the command connects: --embedded, else --database-url / DATABASE_URL / PG*. */
export async function connectionTarget(ctx: CommandContext): Promise<ConnectionTarget> {
  const e = ctx.flags.embedded;
  if (e !== undefined && e !== false) {
    return embeddedTarget(ctx, resolve(typeof e === 'string' ? e : '.boosterz/pgdata'));
  }
  const t = resolveTarget(ctx.flags.databaseUrl);
  addSecret(secretOf(t));
  return t;
}

/**
 * What a command needs of where it connects: `read` runs anywhere (a standby, any pooler);
 * `write` refuses a hot standby and a transaction or statement pooler (exit 6); `daemon`
 * refuses the pooler only (on a standby it waits for a promotion).
 */
export type Needs = 'read' | 'write' | 'daemon';

/** Refuses a server or a proxy where a command of that kind cannot work; returns the server's role. */
export async function checkTopology(sql: Sql, command: string, where: string, needs: Needs, pgbouncer = false): Promise<ServerRole> {
  const role = await serverRole(sql);
  if (needs === 'read') return role;
  if (role === 'standby' && needs === 'write') throw standbyRefusal(command, where);
  const mode = await detectPooling(sql);
  if (mode) throw poolerRefusal(command, where, mode, pgbouncer);
  return role;
}

/** Opens a checked client for `command` (the tool's session settings on every connection); closed at exit. */
export async function connect(
  ctx: CommandContext,
  command: string,
  onNotice?: (m: string) => void,
  needs: Needs = 'read',
): Promise<{ sql: Sql; target: ConnectionTarget; where: string; pooler: boolean; role: ServerRole }> {
  const target = await connectionTarget(ctx);
  const { sql, pooler } = await openClient(target, { command, onNotice: onNotice ?? ((m) => ctx.out.verbose(`notice: ${m}`)) });
  ctx.onCleanup(() =>
    sql.end({ timeout: 5 }).then(
      () => undefined,
      () => undefined,
    ),
  );
  const where = describeTarget(target);
  const role = await checkTopology(sql, command, where, needs, pooler);
  return { sql, target, where, pooler, role };
}

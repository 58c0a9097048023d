import { randomBytes } from 'node:crypto';
import {
  createClient,
  connectionError,
  describeTarget,
  onDatabase,
  openClient,
  type ConnectionTarget,
  type Sql,
} from '../db/connection.js';
import { provideThrowaway } from '../db/provider.js';
import { checkTopology, connectionTarget, type CommandContext } from './context.js';

/**
 * A new empty database for throwaway work, dropped at exit: on the server the user named
 * (--database-url, DATABASE_URL, --embedded), else on a throwaway server (a container when a
 * runtime answers, else embedded binaries in a temporary folder).
 */
export async function throwawayDatabase(
  ctx: CommandContext,
  command: string,
  o: { max?: number } = {},
): Promise<{ sql: Sql; url: string; where: string }> {
  const explicit = ctx.flags.databaseUrl || process.env.DATABASE_URL || process.env.PGHOST || ctx.flags.embedded;
  let server: ConnectionTarget;
  if (explicit) {
    server = await connectionTarget(ctx);
  } else {
    const srv = await provideThrowaway({ resolveFrom: ctx.packageRoot, log: (l) => ctx.out.info(l) });
    ctx.onCleanup(() => srv.stop());
    server = { url: srv.url };
  }
  const name = `boosterz_${command}_${randomBytes(4).toString('hex')}`;
  const admin = createClient(server, { command, max: 1 });
  try {
    // it creates a database there: not on a standby, not through a transaction pooler
    if (explicit) await checkTopology(admin, command, describeTarget(server), 'write');
    await admin`create database ${admin(name)}`;
  } catch (err) {
    await admin.end({ timeout: 2 });
    throw connectionError(err, server);
  }
  ctx.onCleanup(async () => {
    await admin`drop database if exists ${admin(name)} with (force)`.catch(() => undefined);
    await admin.end({ timeout: 2 });
  });
  const target = onDatabase(server, name);
  const { sql } = await openClient(target, { command, max: o.max, onNotice: (m) => ctx.out.verbose(`notice: ${m}`) });
  ctx.onCleanup(() =>
    sql.end({ timeout: 5 }).then(
      () => undefined,
      () => undefined,
    ),
  );
  return { sql, url: target.url ?? '', where: `throwaway database ${name}` };
}

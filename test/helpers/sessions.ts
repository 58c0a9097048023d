import type { Sql } from '../../src/db/connection.js';
import { runCli, type CliResult } from './cli.js';

/** First key of the tool's advisory locks (src/db/lock.ts LOCK_CLASS). */
export const LOCK_CLASS = 0x426f6f73;
export const JOB_KEYS = { refresh: 2, cleanup: 3 } as const;

type Maybe<T> = T | undefined | null | false;

/** Polls `probe` until it returns something truthy; fails after timeoutMs with `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<Maybe<T>> | Maybe<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** pid of the session holding one of the tool's job locks in the current database, if any. */
export async function lockHolderPid(sql: Sql, key: number): Promise<number | undefined> {
  const [row] = await sql<{ pid: number }[]>`
    select pid from pg_locks
     where locktype = 'advisory' and granted and classid = ${LOCK_CLASS}::oid and objid = ${key}::oid and objsubid = 2
       and database = (select oid from pg_database where datname = current_database())`;
  return row?.pid;
}

/** Sessions waiting on a lock (heavyweight), with their application_name. */
export async function lockWaiters(sql: Sql): Promise<{ pid: number; app: string }[]> {
  return sql<{ pid: number; app: string }[]>`
    select pid, application_name as app from pg_stat_activity
     where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`;
}

/** Terminates backends; returns how many went. */
export async function terminate(sql: Sql, pids: number[]): Promise<number> {
  if (!pids.length) return 0;
  const rows = await sql<{ ok: boolean }[]>`select pg_terminate_backend(p) as ok from unnest(${pids}::int[]) p`;
  return rows.filter((r) => r.ok).length;
}

/** A running CLI whose output can be awaited as it comes. */
export interface RunningCli {
  pid: number;
  result: Promise<CliResult>;
  /** stdout + stderr so far. */
  output(): string;
  /** Resolves once the output matches `re` at least `times` times (fails if the CLI ends first). */
  until(re: RegExp, times?: number, timeoutMs?: number): Promise<void>;
}

const live = new Set<number>();

/** SIGKILLs the CLIs startCli started that still run (a failed test must not leave a daemon behind): use in afterEach. */
export function killStartedClis(): void {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

export async function startCli(args: string[], env?: NodeJS.ProcessEnv): Promise<RunningCli> {
  let out = '';
  let pid = 0;
  const waiters = new Set<() => void>();
  const onStderr = (s: string) => {
    out = s;
    for (const w of [...waiters]) w();
  };
  const result = runCli(args, { env, timeoutMs: 180_000, onSpawn: (p) => live.add((pid = p)), onStderr });
  let ended: CliResult | undefined;
  void result.then((r) => {
    live.delete(pid);
    ended = r;
    for (const w of [...waiters]) w();
  });
  const count = (re: RegExp) => out.match(new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`))?.length ?? 0;
  const until = (re: RegExp, times = 1, timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${times}× ${re} in:\n${out}`)), timeoutMs);
      const check = () => {
        if (count(re) >= times) done();
        else if (ended) done(new Error(`the CLI ended (exit ${ended.code}) before printing ${times}× ${re}:\n${out}`));
      };
      const done = (err?: Error) => {
        clearTimeout(timer);
        waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      waiters.add(check);
      check();
    });
  await waitFor('the CLI to start', () => pid);
  return { pid, result, output: () => out, until };
}

/** ALTER DATABASE … SET for each setting (RESET with null). New sessions get them; open ones keep theirs. */
export async function alterDatabase(admin: Sql, database: string, settings: Record<string, string | null>): Promise<void> {
  for (const [k, v] of Object.entries(settings)) {
    if (v === null) await admin.unsafe(`alter database "${database}" reset ${k}`);
    else await admin.unsafe(`alter database "${database}" set ${k} = '${v}'`);
  }
}

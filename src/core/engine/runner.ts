import { createHash } from 'node:crypto';
import type { ReservedSql } from '../../db/connection.js';
import { quoteIdent } from '../../db/sql.js';
import { BoosterzError, ExitCode, isConnectionLoss, isPgError, refusedError, sqlState } from '../../errors.js';
import type { Emit } from './events.js';
import { clearJournal, deleteHistory, journal, recordStatement, setState } from './history.js';
import type { ProgressMonitor } from './monitor.js';
import { concurrentBuildRefusal, detachOrphans, foreignKeysAdded, type ForeignKeyAdd } from './preflight.js';
import { isConcurrentBuild, isConcurrently, needsLockTimeoutOutsideTransaction, splitIndexStatement } from './statements.js';
import type { Script, Statement, StatementRef } from './types.js';

/** How statements that take strong locks behave (see README "Lock discipline"). */
export interface LockPolicy {
  /** lock_timeout for statements that take strong locks (ms, default 2000). */
  lockTimeoutMs?: number;
  /** Retries after a lock timeout (55P03), with exponential backoff and jitter (default 10). */
  lockRetries?: number;
  /** First retry delay in ms (default 500), doubled each time, capped at 30 s. */
  retryBaseMs?: number;
}

export interface RunContext extends LockPolicy {
  conn: ReservedSql;
  emit: Emit;
  signal?: AbortSignal;
  monitor?: ProgressMonitor;
  /** Set orphan foreign-key values to NULL (saved in boosterz_db.orphan_audit) before validating. */
  detachOrphans?: boolean;
  /** Position of the first statement of this script in the whole run. */
  offset: number;
  total: number;
  /**
   * Called right before each statement starts (before the transaction of a migration that runs
   * in one), e.g. to wait for lagging standbys; it returns early when the signal fires.
   */
  beforeStatement?: (r: StatementRef, signal?: AbortSignal) => Promise<void>;
}

/** VALIDATE CONSTRAINT must commit on its own: in the transaction of the ADD it would hold the ADD's strong lock while scanning. */
const needsOwnTransaction = (st: Statement) =>
  st.node === 'AlterTableStmt' && (st.ast.cmds ?? []).some((c: any) => c.AlterTableCmd?.subtype === 'AT_ValidateConstraint');

/** The script runs as one transaction: every statement can, and none must commit on its own. */
export const isTransactional = (s: Script) => s.statements.every((st) => st.transactional && !needsOwnTransaction(st));

export const statementChecksum = (st: Statement) => createHash('sha256').update(st.text).digest('hex').slice(0, 16);

export class Interrupted extends BoosterzError {
  constructor(where: string) {
    super(`interrupted ${where}: stopped at a safe point, rerun to resume`, ExitCode.interrupted);
  }
}

function ref(s: Script, st: Statement, ctx: RunContext): StatementRef {
  return {
    n: ctx.offset + st.index + 1,
    total: ctx.total,
    version: s.version,
    index: st.index,
    line: st.line,
    kind: st.kind,
    target: st.target,
    table: st.table,
    transactional: st.transactional,
  };
}

function firstLine(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 160 ? `${one.slice(0, 157)}...` : one;
}

function failure(s: Script, st: Statement, err: unknown, state: string): BoosterzError {
  if (isConnectionLoss(err)) {
    return new BoosterzError(
      `lost the connection to the server during statement ${st.index + 1}/${s.statements.length} of ${s.version} (${s.name}), ${s.path}:${st.line}: ${(err as Error).message}`,
      ExitCode.statementFailed,
      [
        'the server may still be finishing that statement; the journal and history are as of the last completed statement',
        'rerun to resume (with --lock-wait 10m if the old session still holds the migration lock)',
      ],
      { version: s.version, direction: s.direction, statement: st.index + 1, code: (err as { code?: string }).code, lostConnection: true },
    );
  }
  const pg = isPgError(err) ? err : undefined;
  const what = s.direction === 'up' ? 'migration' : 'rollback of';
  const msg = `${what} ${s.version} (${s.name}) failed at statement ${st.index + 1}/${s.statements.length}, ${s.path}:${st.line}: ${pg?.code ? `[${pg.code}] ` : ''}${(err as Error).message}`;
  const details = [`statement: ${firstLine(st.text)}`];
  if (pg?.detail) details.push(`detail: ${pg.detail}`);
  if (pg?.hint) details.push(`hint: ${pg.hint}`);
  if (pg?.code === '55P03')
    details.push(
      'the lock stayed busy through every retry: find the blocking session (pg_stat_activity) or raise --lock-retries / --lock-timeout',
    );
  details.push(`state: ${state}`);
  return new BoosterzError(msg, ExitCode.statementFailed, details, {
    version: s.version,
    direction: s.direction,
    statement: st.index + 1,
    code: pg?.code,
    state,
  });
}

/** Runs one statement, cancelling it on the server if the signal fires; the monitor watches it. */
async function exec(ctx: RunContext, r: StatementRef | undefined, text: string): Promise<void> {
  checkAbort(ctx.signal, 'before a statement started');
  const q = ctx.conn.unsafe(text);
  const cancel = () => void Promise.resolve(q.cancel() as unknown).catch(() => undefined);
  ctx.signal?.addEventListener('abort', cancel, { once: true });
  if (r) ctx.monitor?.watch(r);
  try {
    await q;
  } finally {
    ctx.monitor?.unwatch();
    ctx.signal?.removeEventListener('abort', cancel);
  }
  // a statement that completed is kept (and journaled by the caller); the abort is honoured before the next one
}

function checkAbort(signal: AbortSignal | undefined, where: string) {
  if (signal?.aborted) throw new Interrupted(where);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((res) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      res();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/** Runs fn; on a lock timeout (55P03) waits with backoff and jitter and runs it again. */
async function withLockRetries<T>(ctx: RunContext, r: StatementRef, fn: () => Promise<T>): Promise<T> {
  const retries = ctx.lockRetries ?? 10;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (sqlState(err) !== '55P03' || attempt > retries || ctx.signal?.aborted) throw err;
      const delayMs = Math.round(Math.min(30_000, (ctx.retryBaseMs ?? 500) * 2 ** (attempt - 1)) * (0.5 + Math.random()));
      ctx.emit({ type: 'retry', ...r, attempt, of: retries, delayMs, reason: (err as Error).message });
      await sleep(delayMs, ctx.signal);
      checkAbort(ctx.signal, `while waiting to retry statement ${r.n}`);
    }
  }
}

const setLocalLockTimeout = (ctx: RunContext) => ctx.conn`select set_config('lock_timeout', ${`${ctx.lockTimeoutMs ?? 2000}ms`}, true)`;

/** All statements in one transaction, with the history change: all or nothing. A lock timeout retries the whole transaction. */
async function runTransactional(s: Script, ctx: RunContext): Promise<void> {
  const { conn, emit, signal } = ctx;
  if (s.statements[0]) await ctx.beforeStatement?.(ref(s, s.statements[0], ctx), signal);
  checkAbort(signal, `before ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version}`);
  let current: Statement | undefined;
  try {
    await withLockRetries(
      ctx,
      ref(s, s.statements[0] ?? ({ index: 0, line: 1, kind: 'transaction', transactional: true } as Statement), ctx),
      async () => {
        const started = performance.now();
        await conn.unsafe('begin');
        try {
          await setLocalLockTimeout(ctx);
          for (const st of s.statements) {
            current = st;
            const t0 = performance.now();
            emit({ type: 'statement:start', ...ref(s, st, ctx) });
            await exec(ctx, ref(s, st, ctx), st.text);
            emit({ type: 'statement:done', ...ref(s, st, ctx), durationMs: performance.now() - t0 });
          }
          if (s.direction === 'down') await deleteHistory(conn, s.version);
          else
            await setState(conn, {
              version: s.version,
              name: s.name,
              checksum: s.checksum,
              state: 'applied',
              durationMs: performance.now() - started,
              statements: s.statements.length,
            });
          await conn.unsafe('commit');
        } catch (err) {
          if (!isConnectionLoss(err)) await conn.unsafe('rollback').catch(() => undefined);
          throw err;
        }
      },
    );
  } catch (err) {
    if (err instanceof Interrupted || signal?.aborted)
      throw new Interrupted(`during ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version}; its transaction was rolled back`);
    if (!current) throw err; // failed before its first statement (begin / set_config): nothing ran
    const state = `the transaction was rolled back: nothing of ${s.direction === 'up' ? 'migration' : 'the rollback of'} ${s.version} was applied`;
    if (s.direction === 'up' && !isConnectionLoss(err)) {
      await setState(conn, {
        version: s.version,
        name: s.name,
        checksum: s.checksum,
        state: 'failed',
        error: (err as Error).message,
      }).catch(() => undefined);
    }
    throw failure(s, current, err, state);
  }
}

/** Looks up an index by (optionally qualified) name; invalid when a CONCURRENTLY build was interrupted. */
async function indexState(
  conn: ReservedSql,
  st: Statement,
): Promise<{ schema: string; name: string; valid: boolean; onTable: boolean } | undefined> {
  const schema: string | undefined = st.ast.relation?.schemaname;
  const name: string | undefined = st.ast.idxname;
  if (!name) return undefined;
  const rows = await conn<{ schema: string; name: string; valid: boolean; onTable: boolean }[]>`
    select n.nspname as schema, c.relname as name, i.indisvalid as valid, i.indrelid = to_regclass(${st.table ?? ''}) as "onTable"
      from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_index i on i.indexrelid = c.oid
     where c.oid = to_regclass(case when ${schema ?? null}::text is null then quote_ident(${name}) else quote_ident(${schema ?? ''}) || '.' || quote_ident(${name}) end)`;
  return rows[0];
}

/** The foreign key a statement validates (VALIDATE CONSTRAINT, or ADD FOREIGN KEY without NOT VALID). */
function validatedForeignKey(st: Statement, fks: ForeignKeyAdd[]): ForeignKeyAdd | undefined {
  if (st.node !== 'AlterTableStmt') return undefined;
  for (const c of st.ast.cmds ?? []) {
    const cmd = c.AlterTableCmd;
    if (cmd?.subtype === 'AT_ValidateConstraint') return fks.find((f) => f.constraint === cmd.name && f.table === st.target);
    const con = cmd?.def?.Constraint;
    if (cmd?.subtype === 'AT_AddConstraint' && con?.contype === 'CONSTR_FOREIGN' && !con.skip_validation)
      return fks.find((f) => f.constraint === con.conname && f.table === st.target && !f.notValid);
  }
  return undefined;
}

/**
 * Session-level lock_timeout around fn, for statements that cannot run in a transaction (where
 * SET LOCAL has nothing to attach to); the previous value (0 on the migration session) comes
 * back afterwards, also when fn fails.
 */
async function withSessionLockTimeout<T>(ctx: RunContext, fn: () => Promise<T>): Promise<T> {
  const [{ before }] = await ctx.conn<{ before: string }[]>`select current_setting('lock_timeout') as before`;
  await ctx.conn`select set_config('lock_timeout', ${`${ctx.lockTimeoutMs ?? 2000}ms`}, false)`;
  try {
    return await fn();
  } finally {
    await ctx.conn`select set_config('lock_timeout', ${before}, false)`.catch(() => undefined);
  }
}

/** Refuses CONCURRENTLY index builds on PostgreSQL 14.0–14.3 (also for rollback scripts, which skip migrate's pre-flight). */
async function refuseBuggyConcurrentBuild(s: Script, st: Statement, ctx: RunContext): Promise<void> {
  const [{ v }] = await ctx.conn<{ v: number }[]>`select current_setting('server_version_num')::int as v`;
  const refusal = concurrentBuildRefusal(v, [{ ...s, statements: [st] }]);
  if (refusal) throw refusal;
}

const qualified = (schema: string, name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;

/** CREATE INDEX CONCURRENTLY on a partitioned table is refused by PostgreSQL: refuse first, with the recipe that works. */
async function refusePartitioned(st: Statement, ctx: RunContext): Promise<void> {
  const { table, rest } = splitIndexStatement(st.text);
  const [parent] = await ctx.conn<{ relkind: string; schema: string; name: string }[]>`
    select c.relkind, n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass(${table})`;
  if (parent?.relkind !== 'p') return;
  const tree = await ctx.conn<{ schema: string; name: string; parentName: string | null; leaf: boolean }[]>`
    select n.nspname as schema, c.relname as name, p.relname as "parentName", t.isleaf as leaf
      from pg_partition_tree(to_regclass(${table})) t join pg_class c on c.oid = t.relid join pg_namespace n on n.oid = c.relnamespace
      left join pg_class p on p.oid = t.parentrelid
     order by t.level, c.relname`;
  const unique = st.ast.unique ? 'UNIQUE ' : '';
  const base = st.ast.idxname ?? `${parent.name}_idx`;
  const idxName = (rel: string) => (rel === parent.name ? base : `${rel}_${base}`.slice(0, 63));
  const idxSchema = new Map(tree.map((t) => [t.name, t.schema]));
  const recipe = [
    `CREATE ${unique}INDEX ${quoteIdent(base)} ON ONLY ${qualified(parent.schema, parent.name)} ${rest};  -- instant; INVALID until all are attached`,
  ];
  const parts = tree.filter((t) => t.parentName);
  const shown = parts.slice(0, 20);
  for (const t of shown) {
    const own = qualified(t.schema, idxName(t.name));
    recipe.push(
      t.leaf
        ? `CREATE ${unique}INDEX CONCURRENTLY ${quoteIdent(idxName(t.name))} ON ${qualified(t.schema, t.name)} ${rest};`
        : `CREATE ${unique}INDEX ${quoteIdent(idxName(t.name))} ON ONLY ${qualified(t.schema, t.name)} ${rest};  -- sub-partitioned: same as the parent`,
    );
    recipe.push(`ALTER INDEX ${qualified(idxSchema.get(t.parentName!) ?? t.schema, idxName(t.parentName!))} ATTACH PARTITION ${own};`);
  }
  if (parts.length > shown.length) recipe.push(`… and the same two statements for the ${parts.length - shown.length} other partition(s)`);
  if (!parts.length)
    recipe.push('(no partition yet: the ON ONLY index is valid at once; each partition created or attached later gets its own)');
  throw refusedError(
    `${st.table} is a partitioned table: PostgreSQL cannot CREATE INDEX CONCURRENTLY on it (statement at line ${st.line})`,
    [
      'build the index per partition instead, each partition concurrently, then attach them (the parent index becomes valid when the last one is attached):',
      ...recipe.map((l) => `  ${l}`),
    ],
    { partitioned: st.table, recipe },
  );
}

interface ExistingIndex {
  schema: string;
  name: string;
  valid: boolean;
}

/**
 * Indexes on the table of an unnamed CREATE INDEX that have its exact definition (pg_get_indexdef
 * minus name and table): the definition is built on an empty temporary copy of the table, in a
 * transaction that is rolled back. undefined when the probe cannot run (e.g. no TEMP privilege).
 */
async function sameDefinition(st: Statement, ctx: RunContext): Promise<ExistingIndex[] | undefined> {
  const { conn } = ctx;
  const { table, rest } = splitIndexStatement(st.text);
  await conn.unsafe('begin');
  try {
    await setLocalLockTimeout(ctx);
    await conn.unsafe(`create temp table boosterz_index_probe (like ${table})`);
    await conn.unsafe(`create ${st.ast.unique ? 'unique ' : ''}index boosterz_index_probe_idx on pg_temp.boosterz_index_probe ${rest}`);
    return await conn<ExistingIndex[]>`
      with want as (
        select i.indisunique as uniq, substr(d, strpos(d, ' USING ')) as shape
          from pg_index i, pg_get_indexdef(i.indexrelid) d where i.indexrelid = 'pg_temp.boosterz_index_probe_idx'::regclass
      )
      select n.nspname as schema, c.relname as name, i.indisvalid as valid
        from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
        cross join want w cross join lateral pg_get_indexdef(i.indexrelid) d
       where i.indrelid = to_regclass(${table}) and i.indisunique = w.uniq and substr(d, strpos(d, ' USING ')) = w.shape
       order by i.indisvalid desc, c.relname`;
  } catch (err) {
    if (isConnectionLoss(err)) throw err;
    const why = (err as Error).message;
    ctx.emit({
      type: 'warning',
      message: `cannot compare the unnamed index on ${st.table} with the existing ones (${why}): building it, maybe a duplicate`,
    });
    return undefined;
  } finally {
    await conn.unsafe('rollback').catch(() => undefined);
  }
}

/**
 * Reconciles what an interrupted CREATE INDEX CONCURRENTLY left; false when there is nothing
 * left to build. A named index: INVALID is dropped and rebuilt, valid is kept. An unnamed one
 * (PostgreSQL picks a new name each time): an index with the identical definition on the table
 * counts as this one.
 */
async function prepareIndexBuild(st: Statement, r: StatementRef, ctx: RunContext): Promise<boolean> {
  await refusePartitioned(st, ctx);
  if (!st.ast.idxname) {
    const same = await sameDefinition(st, ctx);
    if (!same?.length) return true;
    for (const i of same.filter((x) => !x.valid)) {
      const message =
        `index ${i.schema}.${i.name} has the definition of the unnamed index on ${st.table} and is INVALID ` +
        '(an interrupted CONCURRENTLY build): dropping it';
      ctx.emit({ type: 'warning', message });
      await exec(ctx, r, `drop index concurrently if exists ${qualified(i.schema, i.name)}`);
    }
    const valid = same.find((x) => x.valid);
    if (!valid) return true;
    const message =
      `index ${valid.schema}.${valid.name} on ${st.table} already has the definition of the unnamed index at line ${st.line} ` +
      '(built by an interrupted run, or by hand): kept, not built again';
    ctx.emit({ type: 'warning', message });
    return false;
  }
  const idx = await indexState(ctx.conn, st);
  if (idx && !idx.valid) {
    ctx.emit({
      type: 'warning',
      message: `index ${idx.schema}.${idx.name} is INVALID (an interrupted CONCURRENTLY build): dropping it and building it again`,
    });
    await exec(ctx, r, `drop index concurrently if exists ${qualified(idx.schema, idx.name)}`);
  } else if (idx) {
    if (!idx.onTable) {
      throw refusedError(`index ${idx.schema}.${idx.name} already exists on another table than ${st.table}: rename or drop it, then rerun`);
    }
    const message = `index ${idx.schema}.${idx.name} already exists on ${st.table} and is valid (built by an interrupted run, or by hand): kept, not rebuilt`;
    ctx.emit({ type: 'warning', message });
    return false;
  }
  return true;
}

/** DROP INDEX CONCURRENTLY (without IF EXISTS) of an index that is gone: an interrupted run dropped it but was killed before journaling. */
async function alreadyDropped(st: Statement, ctx: RunContext): Promise<boolean> {
  if (st.ast.removeType !== 'OBJECT_INDEX' || st.ast.missing_ok) return false;
  const items: any[] = st.ast.objects?.[0]?.List?.items ?? [];
  const name = items.map((i: any) => quoteIdent(String(i?.String?.sval ?? ''))).join('.');
  if (!name) return false;
  const [row] = await ctx.conn<{ exists: boolean }[]>`select to_regclass(${name}) is not null as exists`;
  if (row.exists) return false; // a valid index, or one left INVALID by an interrupted DROP INDEX CONCURRENTLY: drop it (again)
  const message =
    `index ${st.target} does not exist: taking DROP INDEX CONCURRENTLY at line ${st.line} as done ` +
    '(an interrupted run most likely dropped it before it could journal the statement)';
  ctx.emit({ type: 'warning', message });
  return true;
}

/**
 * An interrupted REINDEX … CONCURRENTLY leaves INVALID `<index>_ccnew[N]` (the new copies) or
 * `<index>_ccold[N]` (the old ones, after the swap) that PostgreSQL never cleans up, and that a
 * second REINDEX … CONCURRENTLY skips or duplicates: drop those in the statement's scope.
 */
async function dropReindexLeftovers(st: Statement, r: StatementRef, ctx: RunContext): Promise<void> {
  const a = st.ast;
  const rel = a.relation
    ? a.relation.schemaname
      ? qualified(a.relation.schemaname, a.relation.relname)
      : quoteIdent(a.relation.relname)
    : null;
  const kind = String(a.kind ?? '')
    .replace(/^REINDEX_OBJECT_/, '')
    .toLowerCase();
  if (kind === 'system') return; // system catalogs cannot be reindexed concurrently
  const rows = await ctx.conn<{ schema: string; name: string; ofIndex: string | null }[]>`
    with scope as (
      select c.oid from pg_class c
       where (${kind} = 'table' and c.oid = to_regclass(${rel}))
          or (${kind} = 'index' and c.oid = (select indrelid from pg_index where indexrelid = to_regclass(${rel})))
          or (${kind} = 'schema' and c.relnamespace = to_regnamespace(${quoteIdent(a.name ?? '')}))
          or (${kind} = 'database')
    ), with_toast as (
      select oid from scope union select c.reltoastrelid from pg_class c join scope s on s.oid = c.oid where c.reltoastrelid <> 0
    )
    select n.nspname as schema, c.relname as name,
           case when ${kind} = 'index' then (select relname from pg_class where oid = to_regclass(${rel})) end as "ofIndex"
      from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
     where not i.indisvalid and c.relname ~ '_cc(new|old)[0-9]*$' and i.indrelid in (select oid from with_toast)
       and n.nspname not in ('pg_catalog', 'information_schema')
     order by 1, 2`;
  for (const x of rows) {
    // REINDEX INDEX: only the leftovers of that index (its name, maybe truncated, plus the suffix)
    if (x.ofIndex && !x.ofIndex.startsWith(x.name.replace(/_cc(new|old)[0-9]*$/, ''))) continue;
    const message = `index ${x.schema}.${x.name} is an INVALID leftover of an interrupted REINDEX CONCURRENTLY: dropping it before reindexing`;
    ctx.emit({ type: 'warning', message });
    await exec(ctx, r, `drop index concurrently if exists ${qualified(x.schema, x.name)}`);
  }
}

/** A statement that PostgreSQL refuses in a transaction: reconcile what an interrupted run left, then run it. */
async function runNonTransactional(s: Script, st: Statement, r: StatementRef, ctx: RunContext): Promise<void> {
  if (isConcurrentBuild(st)) await refuseBuggyConcurrentBuild(s, st, ctx);
  if (st.node === 'IndexStmt' && !(await prepareIndexBuild(st, r, ctx))) return;
  if (st.node === 'DropStmt' && st.ast.concurrent && (await alreadyDropped(st, ctx))) return;
  if (st.node === 'ReindexStmt' && isConcurrently(st)) await dropReindexLeftovers(st, r, ctx);
  if (needsLockTimeoutOutsideTransaction(st)) {
    // VACUUM FULL, CLUSTER, REINDEX without CONCURRENTLY…: strong locks that queue the application's
    // queries, so the same lock_timeout and retries as in a transaction. CONCURRENTLY statements run
    // without: lock_timeout would also cancel their waits for older transactions (INVALID index).
    await withLockRetries(ctx, r, () => withSessionLockTimeout(ctx, () => exec(ctx, r, st.text)));
  } else {
    await exec(ctx, r, st.text);
  }
}

/**
 * REINDEX TABLE/INDEX and CLUSTER of a partitioned table (or index) are refused in a transaction
 * block too, which only the catalog can tell: such statements run outside a transaction (with
 * lock_timeout and retries), and their migration statement by statement.
 */
async function withRuntimeClasses(s: Script, ctx: RunContext): Promise<Script> {
  const maybe = (st: Statement) =>
    st.transactional &&
    ((st.node === 'ReindexStmt' && ['REINDEX_OBJECT_TABLE', 'REINDEX_OBJECT_INDEX'].includes(st.ast.kind)) ||
      (st.node === 'ClusterStmt' && !!st.ast.relation));
  if (!s.statements.some(maybe)) return s;
  const low = (rv: any) => String(rv?.relname ?? '').toLowerCase();
  // partitioned tables and their indexes created earlier in the same script do not exist yet
  const partitioned = new Set<string>();
  for (const st of s.statements) {
    if (st.node === 'CreateStmt' && st.ast.partspec) partitioned.add(low(st.ast.relation));
    if (st.node === 'IndexStmt' && st.ast.idxname && partitioned.has(low(st.ast.relation)))
      partitioned.add(String(st.ast.idxname).toLowerCase());
  }
  const refused = new Set<number>();
  for (const st of s.statements.filter(maybe)) {
    const rv = st.ast.relation;
    if (partitioned.has(low(rv))) refused.add(st.index);
    else {
      const name = rv.schemaname ? qualified(rv.schemaname, rv.relname) : quoteIdent(rv.relname);
      const [row] = await ctx.conn<
        { relkind: string | null }[]
      >`select (select relkind::text from pg_class where oid = to_regclass(${name})) as relkind`;
      if (row?.relkind === 'p' || row?.relkind === 'I') refused.add(st.index);
    }
  }
  if (!refused.size) return s;
  for (const i of refused) {
    const st = s.statements[i];
    const what = st.node === 'ReindexStmt' && st.ast.kind === 'REINDEX_OBJECT_INDEX' ? 'index' : 'table';
    const message =
      `${st.kind.toUpperCase()} ${st.target} at ${s.path}:${st.line} is on a partitioned ${what}: ` +
      `PostgreSQL runs it outside a transaction, so ${s.version} runs statement by statement`;
    ctx.emit({ type: 'notice', message });
  }
  return { ...s, statements: s.statements.map((st) => (refused.has(st.index) ? { ...st, transactional: false } : st)) };
}

/**
 * Statement by statement outside a transaction; each completed statement is journaled
 * (transactional ones in the same transaction as their journal entry) so that a rerun
 * continues after the last completed one.
 */
async function runStepwise(s: Script, ctx: RunContext): Promise<void> {
  const { conn, emit, signal } = ctx;
  const started = performance.now();
  const done = await journal(conn, s.version, s.direction);
  const moved = s.statements.filter((st) => done.has(st.index) && done.get(st.index) !== statementChecksum(st));
  if (moved.length || [...done.keys()].some((i) => i >= s.statements.length)) {
    throw refusedError(
      `${s.path} changed while its ${s.direction === 'up' ? 'migration' : 'rollback'} was part-way: the journal of ${done.size} completed statement(s) no longer matches the file (first at statement ${(moved[0]?.index ?? s.statements.length) + 1})`,
      ['restore the file as it was when the run started, rerun to finish, and make the change in a new migration'],
    );
  }
  const fks = s.direction === 'up' ? foreignKeysAdded([s]) : [];
  const inProgress = s.direction === 'up' ? 'partial' : 'rolling_back';
  checkAbort(signal, `before ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version}`);
  await setState(conn, { version: s.version, name: s.name, checksum: s.checksum, state: inProgress, statements: s.statements.length });
  let completed = done.size;
  for (const st of s.statements) {
    const r = ref(s, st, ctx);
    const sum = statementChecksum(st);
    if (done.has(st.index)) {
      emit({ type: 'statement:skip', ...r, reason: 'completed by an earlier run' });
      continue;
    }
    await ctx.beforeStatement?.(r, signal);
    checkAbort(signal, `before statement ${st.index + 1} of ${s.version}`);
    const t0 = performance.now();
    emit({ type: 'statement:start', ...r });
    const journalIt = () =>
      recordStatement(conn, {
        version: s.version,
        direction: s.direction,
        index: st.index,
        checksum: sum,
        kind: st.kind,
        target: st.target,
        durationMs: performance.now() - t0,
      });
    try {
      if (st.transactional) {
        const fk = ctx.detachOrphans ? validatedForeignKey(st, fks) : undefined;
        await withLockRetries(ctx, r, async () => {
          if (fk) {
            // the NOT VALID constraint already checks new writes: no new orphan can appear now
            await conn.unsafe('begin');
            try {
              await setLocalLockTimeout(ctx);
              const rows = await detachOrphans(conn, fk);
              await conn.unsafe('commit');
              if (rows) emit({ type: 'orphans:detached', table: fk.table, column: fk.columns.join(','), rows });
            } catch (err) {
              if (!isConnectionLoss(err)) await conn.unsafe('rollback').catch(() => undefined);
              throw err;
            }
          }
          await conn.unsafe('begin');
          try {
            await setLocalLockTimeout(ctx);
            await exec(ctx, r, st.text);
            await journalIt();
            await conn.unsafe('commit');
          } catch (err) {
            if (!isConnectionLoss(err)) await conn.unsafe('rollback').catch(() => undefined);
            throw err;
          }
        });
      } else {
        await runNonTransactional(s, st, r, ctx);
        await journalIt();
      }
    } catch (err) {
      const ms = performance.now() - t0;
      if (err instanceof Interrupted || signal?.aborted) {
        const cic =
          !st.transactional && st.node === 'IndexStmt'
            ? '; the cancelled index build left an INVALID index that the rerun drops and rebuilds'
            : '';
        throw new Interrupted(
          `during statement ${st.index + 1}/${s.statements.length} of ${s.version} (${completed} completed and journaled${cic})`,
        );
      }
      emit({ type: 'statement:failed', ...r, durationMs: ms, code: isPgError(err) ? err.code : undefined, error: (err as Error).message });
      if (err instanceof BoosterzError && err.exitCode === ExitCode.refused) throw err; // refused before it ran: the reason is the message
      const state = `${completed} of ${s.statements.length} statements of ${s.version} are done and journaled; fix the cause and rerun to resume at statement ${st.index + 1}`;
      throw failure(s, st, err, state);
    }
    completed++;
    emit({ type: 'statement:done', ...r, durationMs: performance.now() - t0 });
  }
  if (s.direction === 'up') {
    await setState(conn, {
      version: s.version,
      name: s.name,
      checksum: s.checksum,
      state: 'applied',
      durationMs: performance.now() - started,
      statements: s.statements.length,
    });
    await clearJournal(conn, s.version);
  } else {
    await deleteHistory(conn, s.version);
  }
}

/** Runs one migration or rollback script; records the outcome in the history. */
export async function runScript(script: Script, ctx: RunContext): Promise<number> {
  const t0 = performance.now();
  const s = await withRuntimeClasses(script, ctx);
  const transactional = isTransactional(s);
  ctx.emit({
    type: 'migration:start',
    version: s.version,
    name: s.name,
    direction: s.direction,
    transactional,
    statements: s.statements.length,
  });
  if (transactional) await runTransactional(s, ctx);
  else await runStepwise(s, ctx);
  const durationMs = performance.now() - t0;
  ctx.emit({
    type: 'migration:done',
    version: s.version,
    name: s.name,
    direction: s.direction,
    durationMs,
    statements: s.statements.length,
  });
  return durationMs;
}

import { quoteIdent } from '../../db/sql.js';
import { prepareIndexBuild, qualified } from './index-build.js';
import { concurrentBuildRefusal } from './preflight.js';
import { withLockRetries, withSessionLockTimeout } from './retries.js';
import { exec, type RunContext } from './run-context.js';
import { isConcurrentBuild, isConcurrently, needsLockTimeoutOutsideTransaction } from './statements.js';
import type { Script, Statement, StatementRef } from './types.js';

/** Refuses CONCURRENTLY index builds on PostgreSQL 14.0–14.3 (also for rollback scripts, which skip migrate's pre-flight). */
async function refuseBuggyConcurrentBuild(s: Script, st: Statement, ctx: RunContext): Promise<void> {
  const [{ v }] = await ctx.conn<{ v: number }[]>`select current_setting('server_version_num')::int as v`;
  const refusal = concurrentBuildRefusal(v, [{ ...s, statements: [st] }]);
  if (refusal) throw refusal;
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
export async function runNonTransactional(s: Script, st: Statement, r: StatementRef, ctx: RunContext): Promise<void> {
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

import type { ReservedSql, Sql } from '../../db/connection.js';

type Db = Sql | ReservedSql;

/**
 * The transactions in progress right now (their ids). Run right after a refresh committed:
 * a writer among them may have seen a stale mark that the refresh has since cleared, and so
 * sent no NOTIFY for its own mark (0008 notifies once per fresh-to-stale transition).
 */
export async function inFlightTransactions(db: Db): Promise<string[]> {
  const [r] = await db<{ xids: string[] }[]>`select array(select x::text from pg_snapshot_xip(pg_current_snapshot()) x) as xids`;
  return r.xids;
}

/**
 * Waits (polling every `intervalMs`, never holding a lock) until every one of `xids` has
 * committed or rolled back, then tells whether a materialized view still has a stale mark.
 * Resolves false at once when the signal fires.
 */
export async function staleOnceEnded(
  db: () => Promise<Db>,
  xids: readonly string[],
  o: { intervalMs: number; signal: AbortSignal },
): Promise<boolean> {
  let pending = [...xids];
  while (pending.length) {
    if (o.signal.aborted) return false;
    const rows = await (await db())<{ x: string }[]>`
      select x from unnest(${pending}::text[]) as x where pg_xact_status(x::xid8) = 'in progress'`;
    pending = rows.map((r) => r.x);
    if (pending.length) await new Promise((r) => setTimeout(r, o.intervalMs));
  }
  if (o.signal.aborted) return false;
  const sql = await db();
  const [t] = await sql<{ ok: boolean }[]>`select to_regclass('public.materialized_view_stale_marks') is not null as ok`;
  if (!t.ok) return false;
  const [m] = await sql<{ stale: boolean }[]>`select exists (select 1 from public.materialized_view_stale_marks) as stale`;
  return m.stale;
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReservedSql, Sql } from '../../db/connection.js';
import { summarize, type WorkloadTiming, type WorkloadVariant } from './workloads.js';

/** One ownership update: a user sets how many copies of each checklist card they own. */
export interface OwnershipParams {
  userId: string;
  items: { checklist_card_id: number; quantity: number }[];
}

/** The guide's fifth gain ("Ownership checklist : 90 % plus rapide"): a write, so it has its own runner. */
export const OWNERSHIP = {
  name: 'ownership',
  title: 'ownership checklist',
  fn: 'batch_update_ownership',
  guide: { reductionPct: 90 },
} as const;

/** Parameter sets (src/sql/workloads/ownership.params.sql): deterministic for a seed and the same data. */
export async function ownershipParams(sql: Sql, sqlDir: string, o: { seed: number; count: number; powerShare?: number }) {
  const text = await readFile(join(sqlDir, 'workloads', 'ownership.params.sql'), 'utf8');
  const rows = await sql.unsafe<{ user_id: string; items: OwnershipParams['items'] }[]>(text, [o.seed, o.count, o.powerShare ?? 0.2]);
  return rows.map((r): OwnershipParams => ({ userId: String(r.user_id), items: r.items }));
}

/**
 * The app today, on the baseline schema: per item, its own statements (look the rows up, then
 * delete, update and merge, or insert), each a round trip. Same effect as batch_update_ownership.
 */
async function rowByRow(tx: ReservedSql, p: OwnershipParams): Promise<void> {
  for (const it of p.items) {
    if (it.quantity === 0) {
      await tx`delete from cards where user_id = ${p.userId} and checklist_card_id = ${it.checklist_card_id}`;
      continue;
    }
    const rows = await tx<{ id: string }[]>`
      select c.id::text as id from cards c where c.user_id = ${p.userId} and c.checklist_card_id = ${it.checklist_card_id} order by c.id`;
    if (!rows.length) {
      await tx`insert into cards (user_id, collection_id, checklist_card_id, quantity)
               select ${p.userId}, collection_id, id, ${it.quantity} from checklist_cards where id = ${it.checklist_card_id}`;
      continue;
    }
    if (rows.length > 1) await tx`delete from cards where id = any(${rows.slice(1).map((r) => r.id)}::bigint[])`;
    await tx`update cards c set quantity = ${it.quantity}, collection_id = cc.collection_id, updated_at = now()
               from checklist_cards cc
              where c.id = ${rows[0].id} and cc.id = ${it.checklist_card_id}
                and (c.quantity, c.collection_id) is distinct from (${it.quantity}, cc.collection_id)`;
  }
}

/** The user's ownership afterwards, without ids and timestamps: what both variants must leave. */
const ownership = (tx: ReservedSql, userId: string) =>
  tx`select checklist_card_id, collection_id, quantity, condition, is_for_trade, is_for_sale
       from cards where user_id = ${userId}
      order by checklist_card_id nulls first, collection_id, quantity, condition, is_for_trade, is_for_sale`;

/**
 * Runs one ownership update in a transaction that is rolled back (the data stays as it was),
 * returns the time of the update (round trips included) and the resulting rows.
 */
export async function runOwnership(sql: Sql, variant: WorkloadVariant, p: OwnershipParams): Promise<{ ms: number; rows: unknown[] }> {
  const tx = await sql.reserve();
  try {
    await tx`begin`;
    const t0 = performance.now();
    if (variant === 'plain') await rowByRow(tx, p);
    else await tx`select batch_update_ownership(${p.userId}, ${JSON.stringify(p.items)}::text::jsonb)`;
    const ms = performance.now() - t0;
    const rows = [...(await ownership(tx, p.userId))];
    return { ms, rows };
  } finally {
    await tx`rollback`.catch(() => undefined);
    tx.release();
  }
}

/** Times one run per parameter set. */
export async function timeOwnership(sql: Sql, variant: WorkloadVariant, sets: readonly OwnershipParams[], signal?: AbortSignal) {
  const ms: number[] = [];
  for (const p of sets) {
    if (signal?.aborted) break;
    ms.push((await runOwnership(sql, variant, p)).ms);
  }
  return summarize(ms) satisfies WorkloadTiming;
}

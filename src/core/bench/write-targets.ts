import type { Sql } from '../../db/connection.js';
import { sqlFile } from '../../db/sqlfiles.js';
import { WRITE_KINDS, type WriteGroup, type WriteKind } from './write-schedule.js';

/** What the writers tag their new rows with (cards.notes, the start of messages.content), to delete them afterwards. */
export const UNDER_WRITES_TAG = 'boosterz-bench: under writes';

export interface CardInsertTarget {
  user_id: string;
  collection_id: string;
  checklist_card_id: string;
}
/** A card and the values the writers change, as they were before the run. */
export interface CardUpdateTarget {
  card_id: string;
  user_id: string;
  collection_id: string;
  other_collection_id: string;
  quantity: number;
  updated_at: string;
}
export interface LikeTarget {
  post_id: string;
  user_id: string;
}
export interface MessageTarget {
  conversation_id: string;
  user_id: string;
}
export interface FollowTarget {
  user_id: string;
  followed_id: string;
}

export interface TargetsByKind {
  card_insert: CardInsertTarget[];
  card_update: CardUpdateTarget[];
  like: LikeTarget[];
  message: MessageTarget[];
  follow: FollowTarget[];
}
/** Rows each kind of write acts on, by the users the readers read (same) and by the others. */
export type WriteTargets = Record<WriteGroup, TargetsByKind>;
export type WriteTarget = TargetsByKind[WriteKind][number];

/** The users the read workloads read: the first parameter (user_id) of every parameter set. */
export function readUsers(params: Iterable<unknown[][]>): string[] {
  const ids = new Set<string>();
  for (const sets of params)
    for (const [user] of sets) if (typeof user === 'string' || typeof user === 'number' || typeof user === 'bigint') ids.add(String(user));
  return [...ids].sort((a, b) => Number(a) - Number(b));
}

/**
 * Picks, for each kind of write and each group, the rows to write (src/sql/under-writes/*.sql):
 * deterministic for a seed and the same data; like and follow pairs that do not exist yet.
 */
export async function pickTargets(sql: Sql, sqlDir: string, o: { readUsers: string[]; seed: number; usersPerGroup?: number }) {
  const n = o.usersPerGroup ?? 400;
  const out = { same: {}, other: {} } as WriteTargets;
  for (const group of ['same', 'other'] as const) {
    for (const kind of WRITE_KINDS) {
      const text = await sqlFile(sqlDir, `under-writes/${kind}.sql`);
      const rows = await sql.unsafe(text, [o.readUsers, group === 'same', n, o.seed] as never[]);
      (out[group] as unknown as Record<WriteKind, unknown[]>)[kind] = [...rows];
    }
  }
  return out;
}

/**
 * The target of a writer's write of `kind` by `group`: its own share of the list first (the
 * rows are spread over the writers), else the whole list, else the other group's (then the
 * write counts for that group). `use` is how many writes of this kind and group it did.
 */
export function targetFor(
  t: WriteTargets,
  kind: WriteKind,
  group: WriteGroup,
  writer: number,
  writers: number,
  use: number,
): { group: WriteGroup; target: WriteTarget } | undefined {
  for (const g of group === 'same' ? (['same', 'other'] as const) : (['other', 'same'] as const)) {
    const list: readonly WriteTarget[] = t[g][kind];
    if (!list.length) continue;
    const mine = Math.floor((list.length - writer - 1) / writers) + 1; // indices writer, writer + W, ...
    const i = mine > 0 ? writer + writers * (use % mine) : use % list.length;
    return { group: g, target: list[i] };
  }
  return undefined;
}

/** The identity sequences the writers' inserts advance, as they were before the run. */
export interface SequenceState {
  sequence: string;
  lastValue: string | null;
  isCalled: boolean;
}

export async function sequenceState(sql: Sql): Promise<SequenceState[]> {
  const out: SequenceState[] = [];
  for (const table of ['public.cards', 'public.messages']) {
    const [{ seq }] = await sql<{ seq: string }[]>`select pg_get_serial_sequence(${table}, 'id') as seq`;
    const [s] = await sql<{ last_value: string; is_called: boolean }[]>`select last_value::text, is_called from ${sql(seq)}`;
    out.push({ sequence: seq, lastValue: s.last_value, isCalled: s.is_called });
  }
  return out;
}

/**
 * Undoes everything the writers may have done, in one transaction: the tagged cards and
 * messages deleted, the like and follow pairs deleted (they did not exist before), the
 * updated cards given back their values; then the sequences set back and the dead rows
 * vacuumed, so the data the rest of the bench compares and times is as it was.
 */
export async function undoWrites(sql: Sql, t: WriteTargets, sequences: SequenceState[]): Promise<void> {
  const all = <K extends WriteKind>(k: K) => [...t.same[k], ...t.other[k]] as TargetsByKind[K];
  const likes = all('like');
  const follows = all('follow');
  const cards = all('card_update');
  await sql.begin(async (tx) => {
    await tx`delete from cards where notes = ${UNDER_WRITES_TAG}`;
    await tx`delete from messages where starts_with(content, ${UNDER_WRITES_TAG})`;
    await tx`delete from post_likes l using unnest(${likes.map((x) => x.post_id)}::bigint[], ${likes.map((x) => x.user_id)}::bigint[]) as x(post_id, user_id)
              where l.post_id = x.post_id and l.user_id = x.user_id`;
    await tx`delete from follows f using unnest(${follows.map((x) => x.user_id)}::bigint[], ${follows.map((x) => x.followed_id)}::bigint[]) as x(follower_id, followed_id)
              where f.follower_id = x.follower_id and f.followed_id = x.followed_id`;
    await tx`update cards c set quantity = o.quantity, collection_id = o.collection_id, updated_at = o.updated_at
               from unnest(${cards.map((x) => x.card_id)}::bigint[], ${cards.map((x) => x.quantity)}::int[],
                           ${cards.map((x) => x.collection_id)}::bigint[], ${cards.map((x) => x.updated_at)}::timestamptz[])
                    as o(id, quantity, collection_id, updated_at)
              where c.id = o.id and (c.quantity, c.collection_id, c.updated_at) is distinct from (o.quantity, o.collection_id, o.updated_at)`;
  });
  for (const s of sequences) {
    if (s.lastValue !== null) await sql`select setval(${s.sequence}::regclass, ${s.lastValue}::bigint, ${s.isCalled})`;
  }
  await sql`vacuum cards, messages, post_likes, follows`;
}

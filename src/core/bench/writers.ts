import type { Sql } from '../../db/connection.js';
import { openSession, type Session } from '../../db/session.js';
import { sleep } from '../engine/sleep.js';
import {
  nextSlot,
  pickGroup,
  pickKind,
  slotAt,
  slotsDue,
  writerSchedules,
  WRITE_KINDS,
  type WriteGroup,
  type WriteKind,
  type WriteMix,
} from './write-schedule.js';
import {
  targetFor,
  UNDER_WRITES_TAG,
  type CardInsertTarget,
  type CardUpdateTarget,
  type FollowTarget,
  type LikeTarget,
  type MessageTarget,
  type WriteTarget,
  type WriteTargets,
} from './write-targets.js';

export interface WritersOptions {
  ratePerSec: number;
  writers: number;
  sameUserShare: number;
  mix: WriteMix;
}

/** What the writers did. */
export interface WriterStats {
  /** Writes done (statements that completed). */
  writes: number;
  byKind: Record<WriteKind, number>;
  /** Writes done by one of the users the readers read. */
  sameUser: number;
  /** Slots the schedule allowed by the end (the most writes it allows). */
  scheduled: number;
  /** Slots skipped by writers that fell behind (they never catch up more than 2 slots). */
  skipped: number;
  durationMs: number;
  achievedPerSec: number;
}

/** The first write that failed: which writer, what it was doing, the server's error. */
export interface WriterFailure {
  writer: number;
  kind: WriteKind;
  error: unknown;
}

export interface Writers {
  /** Aborted when a writer fails: its failure is `failure`. */
  readonly failed: AbortSignal;
  readonly failure: WriterFailure | undefined;
  /** Stops the writers (in-flight statements finish), ends their sessions, returns what they did. Idempotent. */
  stop(): Promise<WriterStats>;
}

/** Runs one write: a single autocommit statement, as the app sends it. */
async function write(conn: Sql, kind: WriteKind, t: WriteTarget, use: number): Promise<void> {
  switch (kind) {
    case 'card_insert': {
      const x = t as CardInsertTarget;
      await conn`insert into cards (user_id, collection_id, checklist_card_id, condition, quantity, notes)
                 values (${x.user_id}, ${x.collection_id}, ${x.checklist_card_id}, 'near mint', 1, ${UNDER_WRITES_TAG})`;
      return;
    }
    case 'card_update': {
      const x = t as CardUpdateTarget;
      // three in four change the quantity, one in four moves the card to another collection (and back)
      if (use % 4 !== 3)
        await conn`update cards set quantity = quantity % 4 + 1, updated_at = now() where id = ${x.card_id} and user_id = ${x.user_id}`;
      else
        await conn`update cards set collection_id = case when collection_id = ${x.other_collection_id}::bigint then ${x.collection_id}::bigint
                                                       else ${x.other_collection_id}::bigint end,
                                    updated_at = now()
                    where id = ${x.card_id} and user_id = ${x.user_id}`;
      return;
    }
    case 'like': {
      // the app's like is idempotent: a second tap on the same post changes nothing
      const x = t as LikeTarget;
      await conn`insert into post_likes (post_id, user_id) values (${x.post_id}, ${x.user_id}) on conflict do nothing`;
      return;
    }
    case 'message': {
      const x = t as MessageTarget;
      await conn`insert into messages (conversation_id, sender_id, content)
                 values (${x.conversation_id}, ${x.user_id}, ${`${UNDER_WRITES_TAG}: any of these for trade? (${use})`})`;
      return;
    }
    case 'follow': {
      const x = t as FollowTarget;
      await conn`insert into follows (follower_id, followed_id) values (${x.user_id}, ${x.followed_id}) on conflict do nothing`;
      return;
    }
  }
}

const emptyByKind = () => Object.fromEntries(WRITE_KINDS.map((k) => [k, 0])) as Record<WriteKind, number>;

/**
 * Starts `writers` sessions of their own writing at `ratePerSec` in total, each on an
 * open-loop schedule (write-schedule.ts), the kinds in `mix`, `sameUserShare` of them by the
 * users the readers read. The first failed write stops them all (`failed`, `failure`).
 * A rate of 0 starts none (the control).
 */
export async function startWriters(pool: Sql, targets: WriteTargets, o: WritersOptions, signal?: AbortSignal): Promise<Writers> {
  const schedules = writerSchedules(o.ratePerSec, o.writers);
  const stopping = new AbortController();
  const failed = new AbortController();
  let failure: WriterFailure | undefined;
  const sessions: Session[] = [];
  const onAbort = () => stopping.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (let w = 0; w < schedules.length; w++) sessions.push(await openSession(pool, { name: `writer-${w + 1}` }));
  } catch (err) {
    await Promise.all(sessions.map((s) => s.close()));
    signal?.removeEventListener('abort', onAbort);
    throw err;
  }
  const stats = { writes: 0, byKind: emptyByKind(), sameUser: 0, skipped: 0 };
  const uses = new Map<string, number>();
  const t0 = performance.now();
  const elapsed = () => performance.now() - t0;

  const loop = async (w: number) => {
    const s = schedules[w];
    let k = 0;
    while (!stopping.signal.aborted) {
      const next = nextSlot(s, k, elapsed());
      stats.skipped += next.skipped;
      // a timer may fire a fraction of a millisecond early: never write before the slot is due
      for (let wait = slotAt(s, next.slot) - elapsed(); wait > 0 && !stopping.signal.aborted; wait = slotAt(s, next.slot) - elapsed())
        await sleep(wait, stopping.signal);
      if (stopping.signal.aborted) break;
      const kind = pickKind(o.mix, next.slot, w);
      const wanted: WriteGroup = pickGroup(o.sameUserShare, next.slot, w);
      const key = `${w}:${kind}:${wanted}`;
      const use = uses.get(key) ?? 0;
      uses.set(key, use + 1);
      const picked = targetFor(targets, kind, wanted, w, schedules.length, use);
      k = next.slot + 1;
      if (!picked) continue; // no row of that kind in the data (tiny scales): the slot stays unused
      try {
        await write(sessions[w].sql, kind, picked.target, use);
      } catch (error) {
        if (!failure) failure = { writer: w + 1, kind, error };
        failed.abort();
        stopping.abort();
        return;
      }
      stats.writes++;
      stats.byKind[kind]++;
      if (picked.group === 'same') stats.sameUser++;
    }
  };
  const running = Promise.all(schedules.map((_, w) => loop(w)));
  let stopped: Promise<WriterStats> | undefined;
  return {
    failed: failed.signal,
    get failure() {
      return failure;
    },
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort();
        const durationMs = elapsed();
        await running;
        signal?.removeEventListener('abort', onAbort);
        await Promise.all(sessions.map((s) => s.close()));
        const scheduled = schedules.reduce((n, s) => n + slotsDue(s, durationMs), 0);
        return { ...stats, scheduled, durationMs, achievedPerSec: durationMs > 0 ? stats.writes / (durationMs / 1000) : 0 };
      })()),
  };
}

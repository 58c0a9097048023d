import { spawn } from 'node:child_process';
import type { ReservedSql, Sql } from '../../db/connection.js';
import type { MigrationFile } from '../engine/files.js';
import { median } from '../engine/estimates.js';
import { loadParser, splitSql } from '../engine/statements.js';

/** Is a psql client on the PATH? */
export function hasPsql(): Promise<boolean> {
  return new Promise((res) => {
    const p = spawn('psql', ['--version'], { stdio: 'ignore' });
    p.on('error', () => res(false));
    p.on('close', (code) => res(code === 0));
  });
}

/**
 * The guide's own method, as a floor for `migrate`: each file applied with
 * `psql -v ON_ERROR_STOP=1 -f FILE` in autocommit (or, without psql, each statement sent on
 * its own in autocommit). Returns the wall time in ms.
 */
export async function applyLikePsql(url: string, sql: Sql, files: MigrationFile[], usePsql: boolean): Promise<number> {
  const t0 = performance.now();
  if (usePsql) {
    for (const f of files) {
      await new Promise<void>((res, rej) => {
        const p = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', f.path], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d) => (err += d));
        p.on('error', rej);
        p.on('close', (code) => (code === 0 ? res() : rej(new Error(`psql -f ${f.fileName} failed: ${err.trim().split('\n').pop()}`))));
      });
    }
  } else {
    await loadParser();
    for (const f of files) for (const st of splitSql(f.sql, f.path)) await sql.unsafe(st.text);
  }
  return performance.now() - t0;
}

/** The marks table as writers find it: just cleared by a refresh, or holding the marks of earlier writes. */
export type MarksState = 'after-refresh' | 'steady';

export interface TriggerCost {
  /** Concurrent sessions inserting. */
  writers: number;
  /**
   * after-refresh: every block starts with the marks cleared as a refresh clears them, and the
   * writes go to random users and checklist cards, so nearly every write is the first of its
   * (user, collection) and pays for its marks (the worst case); steady: the writes go to rows
   * already marked (writes between two refreshes to rows written since the last one).
   */
  state: MarksState;
  /** Alternating blocks with and without the trigger (each measured for blockMs). */
  blocks: number;
  blockMs: number;
  inserts: number;
  /** Medians over the blocks of the inserts per second. */
  withPerSec: number;
  withoutPerSec: number;
  /** The same inserts with an empty PL/pgSQL row trigger in place of the freshness trigger: what any row trigger costs. */
  emptyPerSec: number;
  /** Median over the rounds of blocks of with / without: the share of insert throughput kept with the freshness trigger. */
  ratio: number;
  /** Median over the rounds of empty / without: the share kept with an empty PL/pgSQL row trigger (the floor of any row trigger). */
  emptyRatio: number;
}

/** The sides of a round: the freshness trigger, no trigger, an empty PL/pgSQL row trigger. */
type Side = 'with' | 'without' | 'empty';
const SIDES: Side[] = ['with', 'without', 'empty'];
const EMPTY_FN = 'boosterz_bench_empty_trigger';

/** The freshness triggers that card inserts fire (0008 and later; 0005 before it). */
async function cardTriggers(sql: Sql): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    select tgname as name from pg_trigger
     where tgrelid = 'public.cards'::regclass and not tgisinternal
       and tgname in ('cards_mark_view_rows_stale', 'cards_mark_views_stale') order by tgname`;
  return rows.map((r) => r.name);
}

/** Pairs written in the steady state. */
const POOL = 1000;

/**
 * Insert throughput into cards as the app inserts (one card of a random user from a random
 * checklist card, one row per transaction), from `writers` concurrent sessions, with the
 * freshness trigger, without it, and with an empty PL/pgSQL row trigger instead (what any row
 * trigger costs): rounds of one blockMs block of each, their order turning from round to
 * round so that every side sees the same machine noise, the median of the rounds' ratios. The
 * inserted rows and the empty trigger are removed afterwards, the freshness trigger enabled
 * again and the views refreshed.
 */
export async function triggerCost(
  sql: Sql,
  o: { writers?: number; blocks?: number; blockMs?: number; state?: MarksState; signal?: AbortSignal } = {},
): Promise<TriggerCost> {
  const writers = o.writers ?? 1;
  const blocks = o.blocks ?? 16;
  const blockMs = o.blockMs ?? 500;
  const state = o.state ?? 'after-refresh';
  const [ref] = await sql<{ users: number; checklist: number }[]>`
    select (select max(id) from users)::int as users, (select max(id) from checklist_cards)::int as checklist`;
  const triggers = await cardTriggers(sql);
  const marker = 'boosterz-bench-trigger-cost';
  let seed = 12345;
  const rnd = (n: number) => 1 + ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  const pick = () => [rnd(ref.users), rnd(ref.checklist)] as const;
  // steady: a pool of (user, checklist card) pairs, each written once before the blocks
  const pool = state === 'steady' ? Array.from({ length: POOL }, pick) : [];
  const next = () => (pool.length ? pool[rnd(pool.length) - 1] : pick());
  const per: Record<Side, number[]> = { with: [], without: [], empty: [] };
  let inserts = 0;
  const toggle = async (triggerNames: string[], on: boolean) => {
    for (const t of triggerNames)
      await (on ? sql`alter table cards enable trigger ${sql(t)}` : sql`alter table cards disable trigger ${sql(t)}`);
  };
  await sql`create function ${sql(EMPTY_FN)}() returns trigger language plpgsql as $$begin return null; end$$`;
  await sql`create trigger ${sql(EMPTY_FN)} after insert on cards for each row execute function ${sql(EMPTY_FN)}()`;
  const conns: ReservedSql[] = [];
  try {
    await toggle([EMPTY_FN], false);
    for (let i = 0; i < writers; i++) conns.push(await sql.reserve());
    const insert = (conn: ReservedSql, [user, checklistCard]: readonly [number, number]) =>
      conn`insert into cards (user_id, collection_id, checklist_card_id, notes)
           select ${user}, cc.collection_id, cc.id, ${marker} from checklist_cards cc where cc.id = ${checklistCard}`;
    const block = async () => {
      const end = performance.now() + blockMs;
      const counts = await Promise.all(
        conns.map(async (conn) => {
          let n = 0;
          while (performance.now() < end && !o.signal?.aborted) {
            // a checklist card id may be a gap (no row): the insert then inserts nothing, on every side
            await insert(conn, next());
            n++;
          }
          return n;
        }),
      );
      const n = counts.reduce((a, b) => a + b, 0);
      inserts += n;
      return n / (blockMs / 1000);
    };
    const side = async (w: Side) => {
      // what a refresh does to the marks (its DELETE), without the refresh's minutes at scale 1
      if (state === 'after-refresh') await sql`delete from materialized_view_stale_marks`;
      if (w !== 'with') await toggle(triggers, false);
      if (w === 'empty') await toggle([EMPTY_FN], true);
      try {
        per[w].push(await block());
      } finally {
        if (w === 'empty') await toggle([EMPTY_FN], false);
        if (w !== 'with') await toggle(triggers, true);
      }
    };
    for (const p of pool) await insert(conns[0], p); // their marks
    for (let b = 0; b < blocks && !o.signal?.aborted; b++) {
      for (const w of SIDES.map((_, i) => SIDES[(i + b) % SIDES.length])) await side(w);
    }
  } finally {
    for (const c of conns) c.release();
    await sql`drop function ${sql(EMPTY_FN)}() cascade`;
    await sql`delete from cards where notes = ${marker}`;
    await sql`select refresh_materialized_views(true)`;
  }
  // a round's blocks are side by side in time: their ratios cancel the machine's slow drifts
  const rounds = Math.min(per.with.length, per.without.length, per.empty.length);
  const kept = (w: Side) => median(per[w].slice(0, rounds).map((x, i) => x / per.without[i])) ?? NaN;
  return {
    writers,
    state,
    blocks: rounds,
    blockMs,
    inserts,
    withPerSec: median(per.with) ?? NaN,
    withoutPerSec: median(per.without) ?? NaN,
    emptyPerSec: median(per.empty) ?? NaN,
    ratio: kept('with'),
    emptyRatio: kept('empty'),
  };
}

import { spawn } from 'node:child_process';
import type { Sql } from '../../db/connection.js';
import type { MigrationFile } from '../engine/files.js';
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

export interface TriggerCost {
  /** Concurrent sessions inserting. */
  writers: number;
  inserts: number;
  withPerSec: number;
  withoutPerSec: number;
  /** with / without: the share of insert throughput kept with the freshness trigger. */
  ratio: number;
}

/** The freshness trigger that card inserts fire (0008; 0005 before it). */
async function cardTrigger(sql: Sql): Promise<string> {
  const [t] = await sql<{ name: string }[]>`
    select tgname as name from pg_trigger
     where tgrelid = 'public.cards'::regclass and tgname in ('cards_mark_view_rows_stale', 'cards_mark_views_stale')
     order by tgname desc limit 1`;
  return t.name;
}

/**
 * Insert throughput into cards, one row per transaction (the app's pattern), from `writers`
 * concurrent sessions, with and without the freshness trigger, in alternating blocks so both
 * see the same machine noise; each block starts with fresh views (the first writes pay the
 * marks, as after every refresh). The rows are deleted afterwards and the trigger enabled again.
 */
export async function triggerCost(sql: Sql, o: { writers?: number; inserts?: number; blocks?: number } = {}): Promise<TriggerCost> {
  const writers = o.writers ?? 1;
  const blocks = o.blocks ?? 4;
  const [ref] = await sql<{ users: number; checklist: number }[]>`
    select (select count(*)::int from users) as users, (select count(*)::int from checklist_cards) as checklist`;
  const per = Math.max(1, Math.floor((o.inserts ?? 2000) / blocks / 2 / writers));
  const trigger = await cardTrigger(sql);
  let withMs = 0;
  let withoutMs = 0;
  const marker = 'boosterz-bench-trigger-cost';
  const conns = await Promise.all(Array.from({ length: writers }, () => sql.reserve()));
  try {
    let n = 0;
    const insertBlock = async () => {
      const t0 = performance.now();
      await Promise.all(
        conns.map(async (conn) => {
          for (let i = 0; i < per; i++) {
            const k = n++;
            // a different user and checklist card each time (the ids are dense from 1)
            await conn`insert into cards (user_id, collection_id, checklist_card_id, notes)
                       select u.id, cc.collection_id, cc.id, ${marker}
                         from (select id from users order by id offset ${(k * 7919) % ref.users} limit 1) u,
                              (select id, collection_id from checklist_cards order by id offset ${(k * 104729) % ref.checklist} limit 1) cc`;
          }
        }),
      );
      return performance.now() - t0;
    };
    for (let b = 0; b < blocks; b++) {
      await sql`select refresh_materialized_views(true)`;
      withMs += await insertBlock();
      await sql`alter table cards disable trigger ${sql(trigger)}`;
      try {
        withoutMs += await insertBlock();
      } finally {
        await sql`alter table cards enable trigger ${sql(trigger)}`;
      }
    }
    await sql`delete from cards where notes = ${marker}`;
  } finally {
    for (const c of conns) c.release();
  }
  const count = per * blocks * writers;
  const withPerSec = count / (withMs / 1000);
  const withoutPerSec = count / (withoutMs / 1000);
  return { writers, inserts: count * 2, withPerSec, withoutPerSec, ratio: withPerSec / withoutPerSec };
}

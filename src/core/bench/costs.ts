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
  inserts: number;
  withPerSec: number;
  withoutPerSec: number;
  /** with / without: the share of insert throughput kept with the freshness trigger. */
  ratio: number;
}

/**
 * Insert throughput into cards, one row per transaction (the app's pattern), with and without
 * the freshness trigger, in alternating blocks so both see the same machine noise. The rows
 * are deleted afterwards and the trigger is enabled again.
 */
export async function triggerCost(sql: Sql, inserts = 2000, blocks = 4): Promise<TriggerCost> {
  const [ref] = await sql<{ user_id: string; collection_id: string; checklist_card_id: string }[]>`
    select c.user_id::text, cc.collection_id::text, cc.id::text as checklist_card_id from checklist_cards cc, (select min(id) as user_id from users) c limit 1`;
  const per = Math.max(1, Math.floor(inserts / blocks / 2));
  let withMs = 0;
  let withoutMs = 0;
  const marker = 'boosterz-bench-trigger-cost';
  const conn = await sql.reserve();
  try {
    const insertBlock = async () => {
      const t0 = performance.now();
      for (let i = 0; i < per; i++) {
        await conn`insert into cards (user_id, collection_id, checklist_card_id, notes) values (${ref.user_id}, ${ref.collection_id}, ${ref.checklist_card_id}, ${marker})`;
      }
      return performance.now() - t0;
    };
    for (let b = 0; b < blocks; b++) {
      await conn`select refresh_materialized_views(true)`; // a fresh view: the first write pays the mark + NOTIFY, as in production
      withMs += await insertBlock();
      await conn`alter table cards disable trigger cards_mark_views_stale`;
      try {
        withoutMs += await insertBlock();
      } finally {
        await conn`alter table cards enable trigger cards_mark_views_stale`;
      }
    }
    await conn`delete from cards where notes = ${marker}`;
  } finally {
    conn.release();
  }
  const n = per * blocks;
  const withPerSec = n / (withMs / 1000);
  const withoutPerSec = n / (withoutMs / 1000);
  return { inserts: n * 2, withPerSec, withoutPerSec, ratio: withPerSec / withoutPerSec };
}

import { join } from 'node:path';
import { generate, GENERATED_TABLES } from '../../src/core/bench/generate.js';
import type { Sql } from '../../src/db/connection.js';

export const SQL_DIR = join(process.cwd(), 'src/sql');

/** Generated Boosterz data on a database at version 1 (no orphans unless asked). */
export function generateData(sql: Sql, scale: number, orphans = 0) {
  return generate(sql, { scale, seed: 7, orphans, sqlDir: SQL_DIR });
}

/** Row count and a content checksum of every generated table. */
export async function dataChecksums(sql: Sql): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of GENERATED_TABLES) {
    const [r] = await sql.unsafe<{ n: string; md5: string | null }[]>(
      `select count(*)::text as n, md5(string_agg(md5(t::text), '' order by md5(t::text))) as md5 from ${t} t`,
    );
    out[t] = `${r.n}:${r.md5}`;
  }
  return out;
}

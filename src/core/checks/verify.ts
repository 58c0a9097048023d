import type { Sql } from '../../db/connection.js';
import { withReserved } from '../../db/session.js';
import { withTransaction } from '../../db/sql.js';
import { snapshot } from './catalog.js';
import { loadExpected } from './expected.js';
import { loadMigrations } from '../engine/files.js';
import { historyExists, readHistory, type HistoryRow } from '../engine/history.js';
import { sqlState } from '../../errors.js';
import { loadParser, splitSql } from '../engine/statements.js';
import type { Statement } from '../engine/types.js';
import { compareIndexes } from '../engine/indexdef.js';
import { TOOL_SCHEMA } from '../../db/sql.js';

export interface VerifyCheck {
  name: string;
  ok: boolean;
  detail?: string;
  /** Not run (a write probe on a hot standby). */
  skipped?: boolean;
}

export interface VerifyOptions {
  migrationsDir: string;
  rollbackDir: string;
  sqlDir: string;
  /** The server is a hot standby: probes that write are skipped (and say so). */
  standby?: boolean;
}

/**
 * The guide's validation checklist on a live database: migrations applied without error,
 * foreign keys present and validated, every index of the migrations present and valid,
 * materialized views populated, functions and monitoring views answering.
 */
export async function verify(sql: Sql, o: VerifyOptions): Promise<VerifyCheck[]> {
  const checks: VerifyCheck[] = [];
  const add = (name: string, ok: boolean, detail?: string) => checks.push({ name, ok, detail });
  const files = await loadMigrations(o.migrationsDir, o.rollbackDir);
  const expected = await loadExpected(o.migrationsDir);
  let history: HistoryRow[] = [];
  let unreadable: string | undefined;
  try {
    history = (await historyExists(sql)) ? await readHistory(sql) : [];
  } catch (err) {
    if (sqlState(err) !== '42501') throw err;
    const [u] = await sql<{ user: string }[]>`select current_user as user`;
    unreadable = `cannot read ${TOOL_SCHEMA}.schema_history: ${(err as Error).message} (GRANT USAGE ON SCHEMA ${TOOL_SCHEMA} TO ${u.user}; GRANT SELECT ON ${TOOL_SCHEMA}.schema_history TO ${u.user})`;
  }
  const rows = new Map(history.map((r) => [r.version, r]));

  const notDone = files.filter((f) => !['applied', 'baselined'].includes(rows.get(f.version)?.state ?? ''));
  const drift = files.filter(
    (f) => rows.get(f.version) && rows.get(f.version)!.state !== 'failed' && rows.get(f.version)!.checksum !== f.checksum,
  );
  add(
    'migrations applied without error',
    !unreadable && !notDone.length && !drift.length,
    unreadable ??
      (notDone.length
        ? `not applied: ${notDone.map((f) => `${f.version} (${rows.get(f.version)?.state ?? 'pending'})`).join(', ')}`
        : drift.length
          ? `changed after being applied: ${drift.map((f) => f.fileName).join(', ')}`
          : `${files.length}/${files.length}`),
  );

  const snap = await snapshot(sql, o.sqlDir);
  for (const fk of expected?.foreignKeys ?? []) {
    const re = new RegExp(`^FOREIGN KEY \\(${fk.column}\\) REFERENCES ${fk.references}\\(id\\)`);
    const hit = [...snap].find(([k, v]) => k.startsWith(`constraint public.${fk.table}.`) && re.test(v));
    add(
      `foreign key ${fk.table}.${fk.column} → ${fk.references}(id) present and validated`,
      !!hit && !hit[1].endsWith('[NOT VALIDATED]'),
      !hit ? 'missing' : hit[1].endsWith('[NOT VALIDATED]') ? 'NOT VALID: rerun `boosterz-db migrate` to validate it' : undefined,
    );
  }

  // every index the migration files create (applied or not: a missing migration is a missing index)
  await loadParser();
  const net = new Set<string>();
  const builds = new Map<string, Statement>();
  for (const f of files) {
    for (const st of splitSql(f.sql, f.path)) {
      if (st.node === 'IndexStmt' && st.ast.idxname) {
        const key = `index ${st.ast.relation?.schemaname ?? 'public'}.${st.ast.idxname}`;
        net.add(key);
        builds.set(key, st);
      }
      if (st.node === 'DropStmt' && st.ast.removeType === 'OBJECT_INDEX') {
        for (const o of st.ast.objects ?? []) {
          const names = (o.List?.items ?? []).map((i: { String?: { sval?: string } }) => i.String?.sval);
          net.delete(`index ${names.length > 1 ? names[0] : 'public'}.${names.at(-1)}`);
        }
      }
    }
  }
  const wanted = [...net];
  const missing = wanted.filter((k) => !snap.has(k));
  const invalid = wanted.filter((k) => snap.get(k)?.endsWith('[INVALID]')).map((k) => k.slice(6));
  // the same name is not the same index: compare what PostgreSQL renders for both
  const present = wanted.filter((k) => snap.has(k)).map((k) => builds.get(k)!);
  const differs = (await withReserved(sql, (conn) => compareIndexes(conn, present)))
    .filter((c) => !c.same)
    .map((c) => `${c.schema}.${c.name} is "${c.actual}", the migration builds "${c.expected}"`);
  add(
    'every index of the migrations present, valid and as the migration defines it',
    !missing.length && !invalid.length && !differs.length,
    missing.length || invalid.length || differs.length
      ? [
          missing.length ? `missing: ${missing.map((k) => k.slice(6)).join(', ')}` : '',
          invalid.length ? `INVALID: ${invalid.join(', ')} (rerun \`boosterz-db migrate\`, or drop and rebuild)` : '',
          differs.length ? `another definition: ${differs.join('; ')}` : '',
        ]
          .filter(Boolean)
          .join('; ')
      : `${wanted.length}/${wanted.length} valid`,
  );

  if (expected?.minAddedIndexes) {
    const valid = wanted.length - missing.length - invalid.length - differs.length;
    add(
      `at least ${expected.minAddedIndexes} indexes added by the migrations`,
      valid >= expected.minAddedIndexes,
      `${valid} present and valid`,
    );
  }
  for (const v of expected?.materializedViews ?? []) {
    const def = snap.get(`materialized view public.${v}`);
    add(
      `materialized view ${v} populated`,
      !!def && def.endsWith('[populated]'),
      !def ? 'missing' : def.endsWith('[populated]') ? undefined : 'not populated: run `boosterz-db refresh-views --all`',
    );
  }
  const triggers = expected?.triggers ?? [];
  if (triggers.length) {
    const absent = triggers.filter((t) => ![...snap.keys()].some((k) => k.startsWith('trigger public.') && k.endsWith(`.${t}`)));
    add(
      'freshness triggers present',
      !absent.length,
      absent.length ? `missing: ${absent.join(', ')}` : `${triggers.length}/${triggers.length}`,
    );
  }

  const keys = [...snap.keys()];
  const absentFns = (expected?.functions ?? []).filter((f) => !keys.some((k) => k.startsWith(`function public.${f}(`)));
  const absentViews = (expected?.views ?? []).filter((v) => !snap.has(`view public.${v}`));
  if (expected?.functions?.length || expected?.views?.length) {
    const n = (expected?.functions?.length ?? 0) + (expected?.views?.length ?? 0);
    add(
      'stored functions and monitoring views present',
      !absentFns.length && !absentViews.length,
      absentFns.length || absentViews.length ? `missing: ${[...absentFns.map((f) => `${f}()`), ...absentViews].join(', ')}` : `${n}/${n}`,
    );
  }

  await withReserved(sql, async (conn) => {
    for (const [name, probe] of Object.entries(expected?.probes ?? {})) {
      try {
        await withTransaction(conn, { statementTimeoutMs: 30_000, rollback: true }, async () => {
          for (const stmt of Array.isArray(probe) ? probe : [probe]) await conn.unsafe(stmt);
        });
        add(`${name} answers`, true);
      } catch (err) {
        if (o.standby && sqlState(err) === '25006') {
          checks.push({
            name: `${name} answers`,
            ok: true,
            skipped: true,
            detail: 'skipped: this probe writes, and this is a hot standby',
          });
          continue;
        }
        add(
          `${name} answers`,
          false,
          `${(err as { code?: string }).code ? `[${(err as { code?: string }).code}] ` : ''}${(err as Error).message}`,
        );
      }
    }
  });
  return checks;
}

import { usageError, refusedError } from '../../errors.js';
import type { MigrationFile } from './files.js';
import type { HistoryRow } from './history.js';
import { isTransactional } from './runner.js';
import { loadParser, splitSql } from './statements.js';
import type { Direction, Script, StatementRef } from './types.js';

/** Parses a migration (up) or its rollback script (down) into a runnable script. */
export async function toScript(f: MigrationFile, direction: Direction): Promise<Script> {
  await loadParser();
  const path = direction === 'up' ? f.path : f.rollbackPath;
  const statements = splitSql(direction === 'up' ? f.sql : f.rollbackSql, path);
  const txControl = statements.find((st) => st.node === 'TransactionStmt');
  if (txControl) {
    throw usageError(
      `${path}:${txControl.line}: ${txControl.kind.toUpperCase()} in a migration file; the engine decides transactions itself (one per migration, or none when a statement needs it)`,
    );
  }
  return { version: f.version, name: f.name, checksum: f.checksum, direction, path, statements };
}

/** Applied migrations whose file changed or disappeared: a human must decide. */
export function checkDrift(files: MigrationFile[], history: HistoryRow[]): void {
  const byVersion = new Map(files.map((f) => [f.version, f]));
  const problems: string[] = [];
  for (const row of history) {
    if (row.state === 'failed') continue;
    const f = byVersion.get(row.version);
    if (!f) problems.push(`version ${row.version} (${row.name}) is ${row.state} in the database but has no file`);
    else if (f.checksum !== row.checksum)
      problems.push(`${f.fileName} changed after it was ${row.state}: database ${row.checksum}, file ${f.checksum}`);
  }
  if (problems.length) {
    throw refusedError(
      `${problems.length === 1 ? 'an applied migration' : `${problems.length} applied migrations`} differ from the files: ${problems[0]}`,
      [
        ...problems.slice(1),
        'restore the original file (a new change belongs in a new migration), or roll back the migration before editing it',
      ],
      { drift: problems },
    );
  }
}

/** A version flag naming no migration: a usage error listing the known range (and `also`, e.g. 0 for rollback). */
export function unknownVersion(flag: string, files: MigrationFile[], also?: string) {
  const range = files.length ? `${files[0].version}..${files[files.length - 1].version}` : 'none';
  return usageError(`${flag}: no migration has that version (known: ${also ? `${also}, ` : ''}${range})`);
}

/** Migrations to apply, in order, up to `to` (inclusive). */
export function pendingUp(files: MigrationFile[], history: HistoryRow[], to?: number): MigrationFile[] {
  if (to !== undefined && !files.some((f) => f.version === to)) throw unknownVersion(`--to ${to}`, files);
  const rows = new Map(history.map((r) => [r.version, r]));
  const stuck = history.find((r) => r.state === 'rolling_back');
  if (stuck) {
    throw refusedError(
      `the rollback of ${stuck.version} (${stuck.name}) stopped part-way: rerun \`boosterz-db rollback\` to finish it before migrating`,
    );
  }
  return files.filter((f) => {
    const r = rows.get(f.version);
    const pending = !r || r.state === 'partial' || r.state === 'failed';
    return pending && (to === undefined || f.version <= to);
  });
}

/** Applied migrations to undo, newest first, for `rollback --to V` or `--steps N` (default 1 step). */
export function pendingDown(files: MigrationFile[], history: HistoryRow[], o: { to?: number; steps?: number }): MigrationFile[] {
  if (o.to !== undefined && o.to !== 0 && !files.some((f) => f.version === o.to))
    throw unknownVersion(`--to ${o.to}`, files, '0 for all of them');
  const active = history.filter((r) => r.state !== 'failed').sort((a, b) => b.version - a.version);
  const rolling = active.find((r) => r.state === 'rolling_back');
  let chosen = o.to !== undefined ? active.filter((r) => r.version > o.to!) : active.slice(0, o.steps ?? 1);
  if (rolling && !chosen.includes(rolling)) chosen = [rolling, ...chosen];
  const baselined = chosen.find((r) => r.state === 'baselined');
  if (baselined) {
    throw refusedError(
      `version ${baselined.version} (${baselined.name}) was baselined, not applied by boosterz-db: its rollback script is not run`,
      [`roll back to ${baselined.version} at most: \`boosterz-db rollback --to ${baselined.version}\``],
    );
  }
  const byVersion = new Map(files.map((f) => [f.version, f]));
  return chosen.map((r) => byVersion.get(r.version)!);
}

/** One line of a dry-run plan: a statement as the engine will run it. */
export interface PlanLine extends Omit<StatementRef, 'n' | 'total'> {
  name: string;
  direction: Direction;
  /** The migration runs in one transaction (all its statements transactional). */
  inTransaction: boolean;
}

export function planLines(scripts: Script[]): PlanLine[] {
  return scripts.flatMap((s) => {
    const inTransaction = isTransactional(s);
    return s.statements.map((st) => ({
      version: s.version,
      name: s.name,
      direction: s.direction,
      index: st.index,
      line: st.line,
      kind: st.kind,
      target: st.target,
      table: st.table,
      transactional: st.transactional,
      inTransaction,
    }));
  });
}

import type { Sql } from '../db/connection.js';
import { loadMigrations } from './engine/files.js';
import { historyExists, readHistory, userTableCount } from './engine/history.js';
import { toolTable } from '../db/sql.js';

export interface StatusLine {
  version: number;
  name: string;
  /** pending, applied, baselined, partial (stopped part-way), rolling_back, failed, missing-file */
  state: string;
  appliedAt: Date | null;
  appliedBy: string | null;
  durationMs: number | null;
  checksum: string | null;
  fileChecksum: string | null;
  drift: boolean;
  /** For a migration stopped part-way: statements completed / total. */
  progress?: { done: number; total: number };
  error: string | null;
}

export interface StatusResult {
  historyTable: boolean;
  /** The database has tables but no history: it needs `baseline`. */
  needsBaseline: boolean;
  current: number | null;
  lines: StatusLine[];
}

/** Files and history side by side: applied, pending, part-way, failed, drift. */
export async function status(sql: Sql, o: { migrationsDir: string; rollbackDir: string }): Promise<StatusResult> {
  const files = await loadMigrations(o.migrationsDir, o.rollbackDir);
  const hasHistory = await historyExists(sql);
  const history = await readHistory(sql);
  const journalCounts = new Map<string, number>();
  if (hasHistory) {
    const rows = await sql<{ version: number; direction: string; n: number }[]>`
      select version, direction, count(*)::int as n from ${sql(toolTable('statement_journal'))} group by version, direction`;
    for (const r of rows) journalCounts.set(`${r.version}/${r.direction}`, r.n);
  }
  const rows = new Map(history.map((r) => [r.version, r]));
  const lines: StatusLine[] = files.map((f) => {
    const r = rows.get(f.version);
    const line: StatusLine = {
      version: f.version,
      name: f.name,
      state: r?.state ?? 'pending',
      appliedAt: r?.applied_at ?? null,
      appliedBy: r?.applied_by ?? null,
      durationMs: r?.duration_ms ?? null,
      checksum: r?.checksum ?? null,
      fileChecksum: f.checksum,
      drift: !!r && r.state !== 'failed' && r.checksum !== f.checksum,
      error: r?.error ?? null,
    };
    if (r && (r.state === 'partial' || r.state === 'rolling_back') && r.statements) {
      line.progress = { done: journalCounts.get(`${f.version}/${r.state === 'partial' ? 'up' : 'down'}`) ?? 0, total: r.statements };
    }
    return line;
  });
  for (const r of history) {
    if (!files.some((f) => f.version === r.version)) {
      lines.push({
        version: r.version,
        name: r.name,
        state: 'missing-file',
        appliedAt: r.applied_at,
        appliedBy: r.applied_by,
        durationMs: r.duration_ms,
        checksum: r.checksum,
        fileChecksum: null,
        drift: true,
        error: r.error,
      });
    }
  }
  lines.sort((a, b) => a.version - b.version);
  const applied = lines.filter((l) => l.state === 'applied' || l.state === 'baselined');
  return {
    historyTable: hasHistory,
    needsBaseline: !hasHistory && (await userTableCount(sql)) > 0,
    current: applied.length ? applied[applied.length - 1].version : null,
    lines,
  };
}

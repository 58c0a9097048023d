import { checkDrift, pendingDown, pendingUp, planLines, toScript } from '../../src/core/engine/plan.js';
import type { MigrationFile } from '../../src/core/engine/files.js';
import type { HistoryRow } from '../../src/core/engine/history.js';
import { renderPlan } from '../../src/cli/render.js';
import { ExitCode } from '../../src/errors.js';

const file = (version: number, sql = 'select 1', rollbackSql = 'select 1'): MigrationFile => ({
  version,
  name: `m${version}`,
  fileName: `000${version}_m${version}.sql`,
  path: `/m/000${version}_m${version}.sql`,
  rollbackPath: `/r/000${version}_m${version}.sql`,
  checksum: `c${version}`,
  sql,
  rollbackSql,
});
const row = (version: number, state: HistoryRow['state'] = 'applied', checksum = `c${version}`): HistoryRow => ({
  version,
  name: `m${version}`,
  checksum,
  state,
  applied_at: new Date(0),
  applied_by: 'dba',
  duration_ms: 1,
  statements: 1,
  error: null,
});

describe('planning', () => {
  const files = [file(1), file(2), file(3)];
  it('applies what is not applied, part-way or failed, up to --to', () => {
    expect(pendingUp(files, [row(1)]).map((f) => f.version)).toEqual([2, 3]);
    expect(pendingUp(files, [row(1), row(2, 'partial')], 2).map((f) => f.version)).toEqual([2]);
    expect(pendingUp(files, [row(1), row(2, 'failed')]).map((f) => f.version)).toEqual([2, 3]);
    expect(() => pendingUp(files, [], 9)).toThrow(/--to 9: no migration has that version \(known: 1..3\)/);
    expect(() => pendingUp(files, [row(1), row(2, 'rolling_back')])).toThrow(expect.objectContaining({ exitCode: ExitCode.refused }));
  });

  it('rolls back newest first, one step by default, never below a baseline', () => {
    const h = [row(1, 'baselined'), row(2), row(3)];
    expect(pendingDown(files, h, {}).map((f) => f.version)).toEqual([3]);
    expect(pendingDown(files, h, { steps: 2 }).map((f) => f.version)).toEqual([3, 2]);
    expect(pendingDown(files, h, { to: 1 }).map((f) => f.version)).toEqual([3, 2]);
    expect(() => pendingDown(files, h, { to: 99 })).toThrow(
      /^--to 99: no migration has that version \(known: 0 for all of them, 1\.\.3\)$/,
    );
    expect(() => pendingDown(files, h, { to: 0 })).toThrow(/version 1 \(m1\) was baselined/);
  });

  it('refuses drift with both checksums, and a history row without file', () => {
    expect(() => checkDrift(files, [row(1, 'applied', 'other')])).toThrow(
      /0001_m1.sql changed after it was applied: database other, file c1/,
    );
    expect(() => checkDrift(files, [row(4)])).toThrow(/version 4 \(m4\) is applied in the database but has no file/);
    expect(() => checkDrift(files, [row(1, 'failed', 'other')])).not.toThrow();
  });

  it('refuses BEGIN/COMMIT inside a migration', async () => {
    await expect(toScript(file(1, 'BEGIN;\nselect 1;\nCOMMIT;'), 'up')).rejects.toThrow(/0001_m1.sql:1: BEGIN in a migration file/);
  });

  it('renders a plan with kind, transactionality and target', async () => {
    const s = await toScript(file(2, 'ALTER TABLE cards ADD COLUMN x int;\nCREATE INDEX CONCURRENTLY cards_x ON cards (x);'), 'up');
    const lines = planLines([s]);
    expect(lines.map((l) => [l.kind, l.transactional, l.inTransaction, l.table])).toEqual([
      ['alter table add column', true, false, 'cards'],
      ['create index concurrently', false, false, 'cards'],
    ]);
    const text = renderPlan(lines);
    expect(text).toContain('own transaction, journaled');
    expect(text).toContain('outside any transaction, journaled');
    expect(text).toContain('cards_x');
    expect(renderPlan([])).toBe('nothing to do');
  });
});

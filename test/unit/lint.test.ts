import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lintFiles, lintSql, RULES } from '../../src/core/lint.js';
import { loadParser } from '../../src/core/statements.js';

const dir = join(process.cwd(), 'test/fixtures/lint');
beforeAll(() => loadParser());

describe('lint rules fire on their fixture', () => {
  it.each([
    ['BZ001', [3]],
    ['BZ002', [1]],
    ['BZ003', [2]],
    ['BZ004', [1, 2, 3]],
    ['BZ005', [2]],
    ['BZ006', [1]],
  ])('%s', async (id, lines) => {
    const file = join(dir, `${id}.sql`);
    const findings = lintSql(await readFile(file, 'utf8'), file);
    expect(findings.map((f) => [f.id, f.line])).toEqual(lines.map((l) => [id, l]));
    for (const f of findings) {
      expect(f.rule).toBe(RULES[id as keyof typeof RULES]);
      expect(f.message.length).toBeGreaterThan(20);
    }
  });

  it('a clean file has no finding', async () => {
    expect(await lintFiles([join(dir, 'clean.sql')])).toEqual([]);
  });

  it('honours an opt-out comment for the whole file or one statement', () => {
    expect(lintSql('-- boosterz-lint: allow drop\nDROP TABLE a;\nDROP TABLE b;', 'f.sql')).toEqual([]);
    expect(lintSql('SELECT 1;\n-- boosterz-lint: allow BZ004\nDROP TABLE a;\nDROP TABLE b;', 'f.sql').map((f) => f.line)).toEqual([4]);
  });

  it('remembers unique indexes created on a view by earlier files', () => {
    const mem = { matviews: new Set<string>(), matviewsWithUniqueIndex: new Set<string>() };
    lintSql('CREATE MATERIALIZED VIEW mv AS SELECT 1 AS id;\nCREATE UNIQUE INDEX mv_id ON mv (id);', '1.sql', mem);
    expect(lintSql('REFRESH MATERIALIZED VIEW CONCURRENTLY mv;', '2.sql', mem)).toEqual([]);
  });
});

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lintFiles, lintSql, newMemory, RULES } from '../../src/core/engine/lint.js';
import { loadParser } from '../../src/core/engine/statements.js';

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
    ['BZ007', [1]],
    ['BZ008', [1]],
    ['BZ009', [3]],
    ['BZ010', [1, 2, 3]],
    ['BZ011', [1]],
    ['BZ012', [1, 3]],
    ['BZ013', [1, 2, 3]],
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

  it('remembers partitioned tables and validated NOT NULL checks from earlier files', () => {
    const mem = newMemory();
    lintSql('CREATE TABLE events (at timestamptz) PARTITION BY RANGE (at);', '1.sql', mem);
    expect(lintSql('CREATE INDEX CONCURRENTLY events_at ON public.events (at);', '2.sql', mem).map((f) => f.id)).toEqual(['BZ009']);
    lintSql('ALTER TABLE cards ADD CONSTRAINT nn CHECK (user_id IS NOT NULL) NOT VALID;', '3.sql', mem);
    expect(lintSql('ALTER TABLE cards ALTER COLUMN user_id SET NOT NULL;', '4.sql', mem).map((f) => f.id)).toEqual(['BZ012']);
    lintSql('ALTER TABLE cards VALIDATE CONSTRAINT nn;', '5.sql', mem);
    expect(lintSql('ALTER TABLE cards ALTER COLUMN user_id SET NOT NULL;', '6.sql', mem)).toEqual([]);
  });

  it('the partitioned-table message gives the ON ONLY / per-partition / ATTACH PARTITION recipe', async () => {
    const file = join(dir, 'BZ009.sql');
    const [f] = lintSql(await readFile(file, 'utf8'), file);
    expect(f.message).toMatch(/CREATE INDEX <name> ON ONLY events .*CREATE INDEX CONCURRENTLY <part_name> ON <partition> /);
    expect(f.message).toMatch(/ALTER INDEX <name> ATTACH PARTITION <part_name>/);
  });

  it('a validated PostgreSQL 18 NOT NULL … NOT VALID constraint also clears SET NOT NULL', () => {
    const sql =
      'ALTER TABLE cards ADD CONSTRAINT nn NOT NULL user_id NOT VALID;\n' +
      'ALTER TABLE cards VALIDATE CONSTRAINT nn;\nALTER TABLE cards ALTER COLUMN user_id SET NOT NULL;';
    expect(lintSql(sql, 'f.sql')).toEqual([]);
  });

  it.each([
    ['ALTER TABLE cards ADD COLUMN c int GENERATED ALWAYS AS IDENTITY', ['BZ010']],
    ['ALTER TABLE cards ADD COLUMN c int GENERATED ALWAYS AS (quantity * 2) STORED', ['BZ010']],
    ['ALTER TABLE cards ADD COLUMN c int GENERATED ALWAYS AS (quantity * 2) VIRTUAL', []],
    ["ALTER TABLE cards ADD COLUMN c text DEFAULT 'x' || (random() * 10)::int", ['BZ010']],
    ['ALTER TABLE cards ADD COLUMN c timestamptz DEFAULT current_timestamp', []],
    ['ALTER TABLE cards ADD COLUMN id bigint PRIMARY KEY', ['BZ013']],
    ['-- boosterz-lint: allow unique\nALTER TABLE posts ADD PRIMARY KEY (id)', []],
    ['-- boosterz-lint: allow alter-column-type\nALTER TABLE cards ALTER COLUMN quantity TYPE bigint', []],
  ])('%s', (sql, ids) => {
    expect(lintSql(sql, 'f.sql').map((f) => f.id)).toEqual(ids);
  });

  it('the shipped migrations and rollback scripts lint clean', async () => {
    const { readdir } = await import('node:fs/promises');
    const files = async (d: string) =>
      (await readdir(join(process.cwd(), d)))
        .filter((f) => f.endsWith('.sql'))
        .sort()
        .map((f) => join(process.cwd(), d, f));
    expect(
      (await lintFiles([...(await files('migrations')), ...(await files('rollback'))])).map((f) => `${f.file}:${f.line} ${f.id}`),
    ).toEqual([]);
  });
});

import { isConcurrentBuild, isConcurrently, needsLockTimeoutOutsideTransaction } from '../../src/core/engine/classify.js';
import { leadingComment, loadParser, splitIndexStatement, splitSql } from '../../src/core/engine/statements.js';
import { STATEMENT_CASES, withDb } from '../helpers/statement-classes.js';
import { BoosterzError } from '../../src/errors.js';

beforeAll(() => loadParser());

describe('splitSql', () => {
  it('keeps a dollar-quoted body with semicolons in one statement', () => {
    const sql = `CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$
BEGIN
  PERFORM 1; RETURN 2;
END $body$;
SELECT 1;`;
    const st = splitSql(sql);
    expect(st).toHaveLength(2);
    expect(st[0].text).toContain('PERFORM 1; RETURN 2;');
    expect(st[0].kind).toBe('create function');
    expect(st[1].text).toBe('SELECT 1');
    expect(st[1].line).toBe(5);
  });

  it('ignores semicolons in line and block comments and in strings', () => {
    const sql = `-- a comment; not a statement
/* another; /* nested; */ still comment */
CREATE TABLE t (a text DEFAULT 'x;y'); -- trailing; comment
INSERT INTO t VALUES ('a;b');`;
    const st = splitSql(sql);
    expect(st.map((s) => s.kind)).toEqual(['create table', 'insert']);
    expect(st[0].line).toBe(3);
    expect(st[1].text).toContain("VALUES ('a;b')");
  });

  it('slices by UTF-8 bytes: non-ASCII text before a statement does not shift it', () => {
    const sql = `-- Numéro de carte, « édition spéciale » 🃏\nCREATE TABLE cartes (nom text DEFAULT 'é');\nCREATE INDEX CONCURRENTLY cartes_nom ON cartes (nom);`;
    const st = splitSql(sql);
    expect(st).toHaveLength(2);
    expect(st[0].text.endsWith("CREATE TABLE cartes (nom text DEFAULT 'é')")).toBe(true);
    expect(st[1].text).toBe('CREATE INDEX CONCURRENTLY cartes_nom ON cartes (nom)');
    expect(st[1].line).toBe(3);
  });

  it('takes a last statement without a semicolon', () => {
    const st = splitSql('SELECT 1;\nSELECT 2');
    expect(st.map((s) => s.text)).toEqual(['SELECT 1', 'SELECT 2']);
    expect(splitSql('SELECT 1; SELECT 2; -- two on a line\n-- above three\nSELECT 3').map((s) => s.text)).toEqual([
      'SELECT 1',
      'SELECT 2',
      '-- above three\nSELECT 3',
    ]);
  });

  it('returns nothing for a file of comments only', () => {
    expect(splitSql('-- nothing here\n/* nor here */\n')).toEqual([]);
  });

  it('reports a syntax error with the line', () => {
    expect(() => splitSql('SELECT 1;\nSELEC 2;', 'm.sql')).toThrow(BoosterzError);
    expect(() => splitSql('SELECT 1;\nSELEC 2;', 'm.sql')).toThrow(/m\.sql:2: syntax error/);
  });

  it('gives the comment above a statement', () => {
    const [st] = splitSql('-- serves: social feed\nCREATE INDEX CONCURRENTLY i ON t (a);');
    expect(leadingComment(st.text)).toBe('serves: social feed');
  });
});

describe('classify', () => {
  const one = (sql: string) => splitSql(sql)[0];
  // the same cases are checked against a real server in test/integration/statement-classes.test.ts
  it.each(STATEMENT_CASES.map((c) => withDb(c, 'boosterz')).map((c) => [c.sql, c] as const))('%s', (sql, c) => {
    const st = one(sql);
    expect({ kind: st.kind, transactional: st.transactional, target: st.target, table: st.table }).toEqual({
      kind: c.kind,
      transactional: c.transactional,
      target: c.target,
      table: c.table,
    });
  });

  it.each([
    ['VACUUM FULL cards', true],
    ['CLUSTER', true],
    ['REINDEX SCHEMA public', true],
    ['ALTER DATABASE d SET TABLESPACE pg_default', true],
    ['VACUUM cards', false],
    ['CREATE INDEX CONCURRENTLY i ON cards (a)', false],
    ['REINDEX SCHEMA CONCURRENTLY public', false],
    ['DROP INDEX CONCURRENTLY i', false],
    ['ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY', false],
    ['REINDEX TABLE cards', false], // transactional: its transaction's SET LOCAL lock_timeout applies
  ])('%s gets a session lock_timeout outside a transaction: %s', (sql, yes) => {
    expect(needsLockTimeoutOutsideTransaction(one(sql))).toBe(yes);
  });

  it.each([
    ['CREATE INDEX CONCURRENTLY i ON cards (a)', true, true],
    ['REINDEX TABLE CONCURRENTLY cards', true, true],
    ['DROP INDEX CONCURRENTLY i', true, false],
    ['ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY', true, false],
    ['CREATE INDEX i ON cards (a)', false, false],
  ])('%s: concurrently %s, concurrent build %s', (sql, concurrently, build) => {
    expect([isConcurrently(one(sql)), isConcurrentBuild(one(sql))]).toEqual([concurrently, build]);
  });
});

describe('splitIndexStatement', () => {
  it.each([
    ['CREATE INDEX CONCURRENTLY ON cards (user_id)', 'cards', '(user_id)'],
    [
      '-- note\nCREATE UNIQUE INDEX CONCURRENTLY ON ONLY "My Schema"."Cards" USING btree (lower(a), b DESC) INCLUDE (c) WHERE a > \'é\'',
      '"My Schema"."Cards"',
      "USING btree (lower(a), b DESC) INCLUDE (c) WHERE a > 'é'",
    ],
    ['CREATE INDEX ON public.cards(a)', 'public.cards', '(a)'],
  ])('%s', (sql, table, rest) => {
    expect(splitIndexStatement(sql)).toEqual({ table, rest });
  });
});

import { loadParser, splitSql, leadingComment } from '../../src/core/statements.js';
import { BoosterzError } from '../../src/core/errors.js';

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
    expect(st[0]!.text).toContain('PERFORM 1; RETURN 2;');
    expect(st[0]!.kind).toBe('create function');
    expect(st[1]!.text).toBe('SELECT 1');
    expect(st[1]!.line).toBe(5);
  });

  it('ignores semicolons in line and block comments and in strings', () => {
    const sql = `-- a comment; not a statement
/* another; /* nested; */ still comment */
CREATE TABLE t (a text DEFAULT 'x;y'); -- trailing; comment
INSERT INTO t VALUES ('a;b');`;
    const st = splitSql(sql);
    expect(st.map((s) => s.kind)).toEqual(['create table', 'insert']);
    expect(st[0]!.line).toBe(3);
    expect(st[1]!.text).toContain("VALUES ('a;b')");
  });

  it('slices by UTF-8 bytes: non-ASCII text before a statement does not shift it', () => {
    const sql = `-- Numéro de carte, « édition spéciale » 🃏\nCREATE TABLE cartes (nom text DEFAULT 'é');\nCREATE INDEX CONCURRENTLY cartes_nom ON cartes (nom);`;
    const st = splitSql(sql);
    expect(st).toHaveLength(2);
    expect(st[0]!.text.endsWith("CREATE TABLE cartes (nom text DEFAULT 'é')")).toBe(true);
    expect(st[1]!.text).toBe('CREATE INDEX CONCURRENTLY cartes_nom ON cartes (nom)');
    expect(st[1]!.line).toBe(3);
  });

  it('takes a last statement without a semicolon', () => {
    const st = splitSql('SELECT 1;\nSELECT 2');
    expect(st.map((s) => s.text)).toEqual(['SELECT 1', 'SELECT 2']);
    expect(splitSql('SELECT 1; SELECT 2; -- two on a line\n-- above three\nSELECT 3').map((s) => s.text)).toEqual(['SELECT 1', 'SELECT 2', '-- above three\nSELECT 3']);
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
    expect(leadingComment(st!.text)).toBe('serves: social feed');
  });
});

describe('classify', () => {
  const one = (sql: string) => splitSql(sql)[0]!;
  it.each([
    ['CREATE INDEX CONCURRENTLY i ON cards (user_id)', 'create index concurrently', false, 'i', 'cards'],
    ['CREATE UNIQUE INDEX i ON public.cards (id)', 'create unique index', true, 'public.i', 'public.cards'],
    ['DROP INDEX CONCURRENTLY IF EXISTS i', 'drop index concurrently', false, 'i', undefined],
    ['REINDEX INDEX CONCURRENTLY i', 'reindex concurrently', false, 'i', 'i'],
    ['REINDEX TABLE cards', 'reindex', true, 'cards', 'cards'],
    ['VACUUM (ANALYZE) cards', 'vacuum', false, 'cards', 'cards'],
    ['ANALYZE cards', 'analyze', true, 'cards', 'cards'],
    ['ALTER TABLE cards ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES x (id) NOT VALID', 'alter table add foreign key', true, 'cards', 'cards'],
    ['ALTER TABLE cards VALIDATE CONSTRAINT fk', 'alter table validate constraint', true, 'cards', 'cards'],
    ['CREATE MATERIALIZED VIEW mv AS SELECT 1 AS a', 'create materialized view', true, 'mv', undefined],
    ['REFRESH MATERIALIZED VIEW CONCURRENTLY mv', 'refresh materialized view concurrently', true, 'mv', undefined],
    ['CREATE TRIGGER t AFTER INSERT ON cards FOR EACH STATEMENT EXECUTE FUNCTION f()', 'create trigger', true, 't', 'cards'],
    ['DROP TABLE cards', 'drop table', true, 'cards', 'cards'],
    ['DROP FUNCTION f(bigint)', 'drop function', true, 'f', undefined],
    ['SET lock_timeout = 1000', 'set', true, 'lock_timeout', undefined],
    ['SET LOCAL lock_timeout = 1000', 'set local', true, 'lock_timeout', undefined],
  ])('%s', (sql, kind, transactional, target, table) => {
    const st = one(sql);
    expect(st.kind).toBe(kind);
    expect(st.transactional).toBe(transactional);
    expect(st.target).toBe(target);
    expect(st.table).toBe(table);
  });
});

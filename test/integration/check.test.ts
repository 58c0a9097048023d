import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dirArgs, fixture, runCli } from '../helpers/cli.js';
import { freshDatabase, serverUrl } from '../helpers/db.js';
import { diffSnapshots, formatDiff, snapshot } from '../../src/core/checks/catalog.js';
import { tempFixture } from '../helpers/fixtures.js';

describe('catalog snapshot', () => {
  it('sees a change deep inside a function body and a constraint losing its validation', async () => {
    const db = await freshDatabase('snap');
    try {
      const sqlDir = join(process.cwd(), 'src/sql');
      const body = `select ${'1 + '.repeat(40)}1`;
      await db.sql.unsafe(`create table t (id int primary key, p int); create function f() returns int language sql as $$ ${body} $$`);
      const a = await snapshot(db.sql, sqlDir);
      expect([...a.keys()]).toEqual(
        expect.arrayContaining([
          'table public.t',
          'column public.t.id',
          'constraint public.t.t_pkey',
          'index public.t_pkey',
          'function public.f()',
        ]),
      );
      await db.sql.unsafe(`create or replace function f() returns int language sql as $$ ${body} + 2 $$`);
      await db.sql.unsafe('alter table t add constraint t_p_check check (p > 0) not valid');
      const d = diffSnapshots(a, await snapshot(db.sql, sqlDir));
      expect(d.changed.map((c) => c.key)).toEqual(['function public.f()']);
      expect(d.extra).toEqual(['constraint public.t.t_p_check']);
      expect(formatDiff(d).join('\n')).toMatch(/\+ constraint public.t.t_p_check \(left over\)/);
      expect((await snapshot(db.sql, sqlDir)).get('constraint public.t.t_p_check')).toMatch(/NOT VALIDATED/);
    } finally {
      await db.drop();
    }
  });
});

describe('check', () => {
  it('passes on the shipped Boosterz migrations: every version rolls back to the previous catalog', async () => {
    const r = await runCli(['check', '--json', '-d', serverUrl()]);
    const out = JSON.parse(r.stdout);
    expect(out.steps.filter((s: { ok: boolean }) => !s.ok)).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('passes on a correct migration set (throwaway database on the given server)', async () => {
    const r = await runCli(['check', '-d', serverUrl(), ...dirArgs(fixture('basic'))]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/✓ roll back 3 migrations one by one/);
    expect(r.stdout).toMatch(/check passed/);
  });

  it('exits 1 with a readable diff when a rollback script does not undo its migration', async () => {
    const f = await tempFixture('basic');
    await writeFile(
      join(f.rollback, '0002_indexes.sql'),
      'DROP INDEX CONCURRENTLY IF EXISTS books_title_idx;\nDROP FUNCTION IF EXISTS book_count(bigint);\n',
    );
    const r = await runCli(['check', '--json', '-d', serverUrl(), ...dirArgs(f)]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(false);
    const failed = out.steps.find((s: { ok: boolean }) => !s.ok);
    expect(failed.name).toMatch(/roll back/);
    expect(failed.problems[0]).toMatch(/rollback\/0002_indexes.sql does not undo 0002_indexes.sql exactly/);
    expect(failed.problems[1]).toMatch(/\+ index public.books_author_id_idx \(left over\)/);
  });

  it('exits 1 when a rollback script drops something its migration did not create back', async () => {
    const f = await tempFixture('basic');
    await writeFile(
      join(f.rollback, '0003_view.sql'),
      'DROP VIEW IF EXISTS author_books;\nDROP INDEX CONCURRENTLY IF EXISTS books_title_idx;\n',
    );
    const r = await runCli(['check', '-d', serverUrl(), ...dirArgs(f)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/- index public.books_title_idx \(expected, missing\)/);
  });

  it('exits 1 on a lint finding', async () => {
    const f = await tempFixture('basic', {
      'migrations/0004_idx.sql': 'CREATE INDEX books_title_plain ON books (title);\n',
      'rollback/0004_idx.sql': 'DROP INDEX IF EXISTS books_title_plain;\n',
    });
    const r = await runCli(['check', '-d', serverUrl(), ...dirArgs(f)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/✗ lint 8 files[\s\S]*BZ001/);
  });
});

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dirArgs, fixture, runCli } from '../helpers/cli.js';
import { serverUrl } from '../helpers/db.js';
import { tempFixture } from '../helpers/fixtures.js';

describe('check', () => {
  it('passes on a correct migration set (throwaway database on the given server)', async () => {
    const r = await runCli(['check', '-d', serverUrl(), ...dirArgs(fixture('basic'))]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/✓ roll back 3 migrations one by one/);
    expect(r.stdout).toMatch(/check passed/);
  });

  it('exits 1 with a readable diff when a rollback script does not undo its migration', async () => {
    const f = await tempFixture('basic');
    await writeFile(join(f.rollback, '0002_indexes.sql'), 'DROP INDEX CONCURRENTLY IF EXISTS books_title_idx;\nDROP FUNCTION IF EXISTS book_count(bigint);\n');
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
    await writeFile(join(f.rollback, '0003_view.sql'), 'DROP VIEW IF EXISTS author_books;\nDROP INDEX CONCURRENTLY IF EXISTS books_title_idx;\n');
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

import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checksum, loadMigrations } from '../../src/core/engine/files.js';
import { ExitCode } from '../../src/errors.js';

async function dirs(files: Record<string, string>, rollbacks: Record<string, string> = files) {
  const root = await mkdtemp(join(tmpdir(), 'bz-files-'));
  const m = join(root, 'migrations');
  const r = join(root, 'rollback');
  await mkdir(m);
  await mkdir(r);
  for (const [f, t] of Object.entries(files)) await writeFile(join(m, f), t);
  for (const [f, t] of Object.entries(rollbacks)) await writeFile(join(r, f), t);
  return [m, r] as const;
}

describe('loadMigrations', () => {
  it('orders by number, not by name', async () => {
    const [m, r] = await dirs({ '0010_ten.sql': 'select 10', '0009_nine.sql': 'select 9', '0008_eight.sql': 'select 8' });
    const files = await loadMigrations(m, r);
    expect(files.map((f) => [f.version, f.name])).toEqual([
      [8, 'eight'],
      [9, 'nine'],
      [10, 'ten'],
    ]);
    expect(files[0].rollbackSql).toBe('select 8');
  });

  it('refuses a gap', async () => {
    const [m, r] = await dirs({ '0001_a.sql': '', '0003_c.sql': '' });
    await expect(loadMigrations(m, r)).rejects.toMatchObject({
      exitCode: ExitCode.usage,
      message: expect.stringMatching(/gap.*1 is followed by 3/),
    });
  });

  it('refuses a duplicate number', async () => {
    const [m, r] = await dirs({ '0001_a.sql': '', '0001_b.sql': '' });
    await expect(loadMigrations(m, r)).rejects.toThrow(/duplicate migration version 1: 0001_a.sql and 0001_b.sql/);
  });

  it('refuses a missing rollback script', async () => {
    const [m, r] = await dirs({ '0001_a.sql': '', '0002_b.sql': '' }, { '0001_a.sql': '' });
    await expect(loadMigrations(m, r)).rejects.toThrow(/missing rollback script .*0002_b.sql/);
  });

  it('refuses a rollback script without migration and a badly named file', async () => {
    const [m, r] = await dirs({ '0001_a.sql': '' }, { '0001_a.sql': '', '0002_b.sql': '' });
    await expect(loadMigrations(m, r)).rejects.toThrow(/rollback script without a migration/);
    const [m2, r2] = await dirs({ '1_a.sql': '' });
    await expect(loadMigrations(m2, r2)).rejects.toThrow(/must be named NNNN_description.sql/);
  });

  it('ignores non-SQL files and reports a missing folder clearly', async () => {
    const [m, r] = await dirs({ '0001_a.sql': '' });
    await writeFile(join(m, 'README.md'), '# notes');
    expect(await loadMigrations(m, r)).toHaveLength(1);
    await expect(loadMigrations('/nonexistent/x', r)).rejects.toThrow(/cannot read the migrations folder \/nonexistent\/x \(ENOENT\)/);
  });
});

describe('checksum', () => {
  it('is sha256 of the text with normalised line endings', () => {
    expect(checksum('a\r\nb\rc\n')).toBe(checksum('a\nb\nc\n'));
    expect(checksum('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(checksum('a')).not.toBe(checksum('b'));
  });
});

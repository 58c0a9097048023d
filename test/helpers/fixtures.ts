import { cp, mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from './cli.js';

/** A writable copy of a fixture set (or an empty one) in a temporary folder. */
export async function tempFixture(from?: string, files: Record<string, string> = {}): Promise<{ migrations: string; rollback: string }> {
  const root = await mkdtemp(join(tmpdir(), 'bz-fixture-'));
  const dirs = { migrations: join(root, 'migrations'), rollback: join(root, 'rollback') };
  if (from) {
    const f = fixture(from);
    await cp(f.migrations, dirs.migrations, { recursive: true });
    await cp(f.rollback, dirs.rollback, { recursive: true });
  } else {
    await mkdir(dirs.migrations);
    await mkdir(dirs.rollback);
  }
  for (const [path, text] of Object.entries(files)) await writeFile(join(root, path), text);
  return dirs;
}

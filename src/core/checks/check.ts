import type { Sql } from '../../db/connection.js';
import { diffSnapshots, formatDiff, isEmptyDiff, snapshot, type Snapshot } from './catalog.js';
import type { EngineOptions } from '../engine/lock.js';
import { verify } from './verify.js';
import { loadMigrations } from '../engine/files.js';
import { formatFinding, lintMigrations } from '../engine/lint.js';
import { migrate } from '../migrate.js';
import { rollback } from '../rollback.js';

export interface CheckStep {
  name: string;
  ok: boolean;
  ms: number;
  problems: string[];
}

export interface CheckResult {
  ok: boolean;
  steps: CheckStep[];
}

export interface CheckOptions extends EngineOptions {
  sqlDir: string;
  onStep?: (s: CheckStep) => void;
}

/**
 * On an empty database: lint; apply one version at a time (snapshotting each); verify the
 * expected objects; roll back one version at a time, proving each rollback script returns
 * the catalog exactly to the previous version's; apply all again and prove it identical.
 */
export async function check(sql: Sql, o: CheckOptions): Promise<CheckResult> {
  const steps: CheckStep[] = [];
  const step = async (name: string, fn: () => Promise<string[]>) => {
    const t0 = performance.now();
    const problems = await fn();
    const s = { name, ok: problems.length === 0, ms: performance.now() - t0, problems };
    steps.push(s);
    o.onStep?.(s);
    return s.ok;
  };
  const files = await loadMigrations(o.migrationsDir, o.rollbackDir);
  const snaps = new Map<number, Snapshot>();
  const engine = { ...o, lint: false };

  await step(`lint ${files.length * 2} files`, async () => (await lintMigrations(files, { rollbacks: true })).map(formatFinding));
  const empty = await snapshot(sql, o.sqlDir);
  snaps.set(0, empty);
  const applied = await step(`apply ${files.length} migrations one by one`, async () => {
    for (const f of files) {
      await migrate(sql, { ...engine, to: f.version });
      snaps.set(f.version, await snapshot(sql, o.sqlDir));
    }
    return [];
  });
  if (!applied) return { ok: false, steps };
  const last = files.length ? files[files.length - 1].version : 0;
  const full = snaps.get(last)!;
  await step('verify the expected objects', async () =>
    (await verify(sql, o)).filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail ?? 'failed'}`),
  );
  await step(`roll back ${files.length} migrations one by one, each back to the previous catalog`, async () => {
    const problems: string[] = [];
    for (const f of [...files].reverse()) {
      await rollback(sql, { ...engine, steps: 1 });
      const before = f === files[0] ? empty : snaps.get(f.version - 1)!;
      const d = diffSnapshots(before, await snapshot(sql, o.sqlDir));
      if (!isEmptyDiff(d)) {
        problems.push(`rollback/${f.fileName} does not undo ${f.fileName} exactly:`, ...formatDiff(d).map((l) => `  ${l}`));
        break;
      }
    }
    return problems;
  });
  await step('catalog back to empty', async () => formatDiff(diffSnapshots(empty, await snapshot(sql, o.sqlDir))));
  await step('apply all again: identical catalog', async () => {
    await migrate(sql, engine);
    return formatDiff(diffSnapshots(full, await snapshot(sql, o.sqlDir)));
  });
  return { ok: steps.every((s) => s.ok), steps };
}

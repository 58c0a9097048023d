import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { serverUrl } from '../helpers/db.js';

describe('bench and demo at a tiny scale', () => {
  it('bench: generates, times the five workloads before and after, the answers match, floor and trigger cost measured', async () => {
    const r = await runCli(['bench', '--json', '-d', serverUrl(), '--scale', '0.005', '--runs', '5'], { timeoutMs: 300_000 });
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    const b = JSON.parse(r.stdout);
    expect(b.workloads.map((w: { name: string }) => w.name)).toEqual(['collection', 'feed', 'user_stats', 'conversations', 'ownership']);
    for (const w of b.workloads) {
      expect(w.before.runs).toBe(5);
      expect(w.after.runs).toBe(5);
      expect(w.identicalAnswers).toBe(8);
      expect(w.before.p50Ms).toBeGreaterThan(0);
      expect(typeof w.met).toBe('boolean');
    }
    expect(b.data.totalRows).toBeGreaterThan(10_000);
    expect(b.migrate.statements).toBe(121);
    expect(b.floor.ratio).toBeGreaterThan(0);
    expect(b.triggers.map((t: { writers: number }) => t.writers)).toEqual([1, 8]);
    for (const t of b.triggers) expect(t.ratio).toBeGreaterThan(0);
    expect(b.postgres).toMatch(/^\d+/);
  }, 300_000);

  it('demo: on an embedded server, schema, data, workloads, migrate, verify, before/after, reports', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bz-demo-'));
    try {
      const r = await runCli(['demo', '--embedded', dir, '--scale', '0.005', '--runs', '3'], { timeoutMs: 300_000 });
      expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
      expect(r.stdout).toMatch(
        /== verify[\s\S]*✓ migrations applied without error[\s\S]*== before \/ after[\s\S]*collection loading[\s\S]*== report slow-queries[\s\S]*== report unused-indexes/,
      );
      expect(r.stdout).not.toMatch(/✗/);
      expect(r.stderr).toMatch(/\[121\/121\] 0008 do/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

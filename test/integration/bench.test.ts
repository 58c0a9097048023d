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
    expect(b.migrate.statements).toBe(128);
    expect(b.floor.ratio).toBeGreaterThan(0);
    expect(b.triggers.map((t: { writers: number; state: string }) => `${t.state}:${t.writers}`)).toEqual([
      'steady:1',
      'steady:8',
      'after-refresh:1',
      'after-refresh:8',
    ]);
    for (const t of b.triggers)
      expect([t.ratio > 0, t.emptyRatio > 0, t.blocks, t.withPerSec > 0, t.withoutPerSec > 0, t.emptyPerSec > 0]).toEqual([
        true,
        true,
        16,
        true,
        true,
        true,
      ]);
    expect(b.postgres).toMatch(/^\d+/);
    // under writes (defaults: 4 writers, 200 writes/s, half by the users being read): the four read workloads
    const u = b.underWrites;
    expect([u.targetPerSec, u.writers, u.sameUserShare]).toEqual([200, 4, 0.5]);
    expect(Object.keys(u.mix).sort()).toEqual(['card_insert', 'card_update', 'follow', 'like', 'message']);
    expect(u.achievedPerSec).toBeGreaterThan(0);
    expect(u.achievedPerSec).toBeLessThanOrEqual(200);
    for (const p of [u.before, u.after]) {
      expect(p.workloads.map((w: { name: string }) => w.name)).toEqual(['collection', 'feed', 'user_stats', 'conversations']);
      for (const w of p.workloads) expect([w.timing.runs, w.timing.p99Ms >= w.timing.p95Ms]).toEqual([5 * p.rounds, true]);
      expect(p.writes.writes).toBeLessThanOrEqual(p.writes.scheduled);
    }
    // after the migration the reads repeat until the writers have written as long as before it
    expect(u.before.rounds).toBe(1);
    expect(u.after.writes.durationMs).toBeGreaterThanOrEqual(u.before.writes.durationMs);
    expect(u.after.staleMarks).toBeGreaterThanOrEqual(0);
    for (const w of b.workloads) expect(w.after.p99Ms).toBeGreaterThanOrEqual(w.after.p95Ms);
  }, 300_000);

  it('bench --no-under-writes leaves the run out; --write-rate 0 is the control; a bad share is a usage error', async () => {
    const quick = ['bench', '--json', '-d', serverUrl(), '--scale', '0.005', '--runs', '3', '--no-floor', '--no-trigger-cost'];
    const skipped = await runCli([...quick, '--no-under-writes'], { timeoutMs: 300_000 });
    expect({ code: skipped.code, err: skipped.code ? skipped.stderr : '' }).toEqual({ code: 0, err: '' });
    expect(JSON.parse(skipped.stdout).underWrites).toBeUndefined();
    const control = await runCli([...quick, '--write-rate', '0', '--writers', '2'], { timeoutMs: 300_000 });
    expect({ code: control.code, err: control.code ? control.stderr : '' }).toEqual({ code: 0, err: '' });
    const u = JSON.parse(control.stdout).underWrites;
    expect([u.targetPerSec, u.writers, u.achievedPerSec, u.before.writes.writes, u.after.writes.writes]).toEqual([0, 2, 0, 0, 0]);
    // --write-mix: only the kinds given are written, in their shares
    const mixed = await runCli([...quick, '--write-mix', 'like=3,message=1', '--writers', '2'], { timeoutMs: 300_000 });
    expect({ code: mixed.code, err: mixed.code ? mixed.stderr : '' }).toEqual({ code: 0, err: '' });
    const m = JSON.parse(mixed.stdout).underWrites;
    expect(m.mix).toEqual({ card_insert: 0, card_update: 0, like: 0.75, message: 0.25, follow: 0 });
    const byKind = m.before.writes.byKind;
    expect([byKind.card_insert, byKind.card_update, byKind.follow, byKind.like > byKind.message, byKind.message > 0]).toEqual([
      0,
      0,
      0,
      true,
      true,
    ]);
    const bad = await runCli(['bench', '--same-user-share', '1.5']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--same-user-share must be a number from 0 to 1/);
    const badMix = await runCli(['bench', '--write-mix', 'likes=1']);
    expect(badMix.code).toBe(2);
    expect(badMix.stderr.split('\n')[0]).toMatch(
      /--write-mix: unknown write kind "likes" \(kinds: card_insert, card_update, like, message, follow\)/,
    );
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
      expect(r.stderr).toMatch(/\[128\/128\] 0009 /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

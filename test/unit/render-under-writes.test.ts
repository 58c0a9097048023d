import { renderUnderWrites } from '../../src/cli/render-under-writes.js';
import { shareArg } from '../../src/cli/args.js';
import type { WorkloadResult } from '../../src/core/bench/bench.js';
import type { UnderWritesPhase, UnderWritesResult } from '../../src/core/bench/under-writes.js';
import { DEFAULT_MIX } from '../../src/core/bench/write-schedule.js';
import type { WorkloadTiming } from '../../src/core/bench/workloads.js';

const timing = (p50: number): WorkloadTiming => ({ runs: 5, p50Ms: p50, p95Ms: p50 * 2, p99Ms: p50 * 3, meanMs: p50, maxMs: p50 * 3 });
const phase = (p50: number, writes: number, sameUser: number): UnderWritesPhase => ({
  workloads: [{ name: 'user_stats', title: 'user stats', timing: timing(p50) }],
  rounds: 1,
  writes: {
    writes,
    sameUser,
    scheduled: writes + 2,
    skipped: 0,
    durationMs: 1000,
    achievedPerSec: writes,
    byKind: { card_insert: 1, card_update: 1, like: 1, message: 1, follow: writes - 4 },
  },
});

describe('the under-writes table', () => {
  it('per workload: before idle, before under writes, after fresh idle, after under writes, each p50 / p95 / p99', () => {
    const u: UnderWritesResult = {
      targetPerSec: 200,
      writers: 4,
      mix: DEFAULT_MIX,
      sameUserShare: 0.5,
      achievedPerSec: 190,
      before: phase(250, 198, 99),
      after: { ...phase(4, 180, 90), rounds: 12, staleMarks: 37 },
    };
    const idle = [{ name: 'user_stats', title: 'user stats', before: timing(200), after: timing(0.4) }] as WorkloadResult[];
    const out = renderUnderWrites(u, idle);
    expect(out).toMatch(/before, idle.*before, under writes.*after, fresh, idle.*after, under writes/);
    expect(out).toMatch(
      /user stats\s*│ 200 \/ 400 \/ 600 ms\s*│ 250 \/ 500 \/ 750 ms\s*│ 0\.4 \/ 0\.8 \/ 1\.2 ms\s*│ 4\.0 \/ 8\.0 \/ 12\.0 ms/,
    );
    expect(out).toContain(
      '4 writer session(s), target 200 writes/s in total; achieved 198/s for 1.0 s (198 of 200 scheduled, 50% by users being read) before',
    );
    expect(out).toContain('180/s for 1.0 s (180 of 182 scheduled, 50% by users being read; the reads in 12 rounds) after');
    expect(out).toContain('card insert 25%, card update 25%, like 25%, message 15%, follow 10%');
    expect(out).toContain('stale marks pending when the writers stopped (after): 37');
    expect(renderUnderWrites({ ...u, targetPerSec: 0 }, idle)).toContain('(the control: nobody writes)');
  });

  it('--same-user-share takes 0 to 1 only', () => {
    expect(shareArg('--same-user-share')('0.25')).toBe(0.25);
    expect(shareArg('--same-user-share')('1')).toBe(1);
    for (const bad of ['', '1.5', '-0.1', 'half']) expect(() => shareArg('--same-user-share')(bad)).toThrow(/from 0 to 1/);
  });
});

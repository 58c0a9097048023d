import { percentile, summarize } from '../../src/core/bench/workloads.js';

describe('workload timings', () => {
  it('p50, p95 and p99 by nearest rank', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 .. 1, unsorted on purpose
    expect(summarize(hundred)).toMatchObject({ runs: 100, p50Ms: 50, p95Ms: 95, p99Ms: 99, maxMs: 100 });
    expect(summarize([3, 1, 2])).toMatchObject({ p50Ms: 2, p95Ms: 3, p99Ms: 3 });
    expect(percentile([], 99)).toBeNaN();
  });
});

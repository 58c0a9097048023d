import { Schedule, simulate, type Job } from '../../src/core/engine/schedule.js';

const build = (index: number, table: string, estimateMs = 100, plain = true): Job => ({ index, build: true, plain, table, estimateMs });
const barrier = (index: number, table?: string, estimateMs = 10): Job => ({ index, build: false, plain: false, table, estimateMs });

/** Runs the schedule to the end, finishing the oldest running statement first; returns the batches started together. */
function batches(jobs: Job[], parallel: number): number[][] {
  const s = new Schedule(jobs, parallel);
  const out: number[][] = [];
  const order: number[] = [];
  while (!s.finished) {
    const next = s.next().map((j) => j.index);
    for (const i of next) s.start(i);
    if (next.length) out.push(next);
    order.push(...next);
    s.finish(order.shift()!);
  }
  return out;
}

describe('schedule', () => {
  it('with --parallel 1 runs the file in order, one at a time', () => {
    const jobs = [build(0, 'a', 10), build(1, 'b', 500), barrier(2), build(3, 'c')];
    expect(batches(jobs, 1)).toEqual([[0], [1], [2], [3]]);
  });

  it('runs builds on different tables side by side, longest first', () => {
    expect(batches([build(0, 'a', 10), build(1, 'b', 500), build(2, 'c', 50)], 2)).toEqual([[1, 2], [0]]);
  });

  it('never runs two builds on one table at once, and keeps their order', () => {
    const s = new Schedule([build(0, 'a', 10), build(1, 'a', 900), build(2, 'b', 10)], 4);
    expect(s.next().map((j) => j.index)).toEqual([0, 2]);
    s.start(0);
    s.start(2);
    expect(s.next()).toEqual([]);
    s.finish(2);
    expect(s.next()).toEqual([]); // 1 waits for 0 (same table)
    s.finish(0);
    expect(s.next().map((j) => j.index)).toEqual([1]);
  });

  it('a statement that is not a build is a barrier both ways', () => {
    const s = new Schedule([build(0, 'a'), build(1, 'b'), barrier(2, 'c'), build(3, 'd'), build(4, 'e')], 4);
    expect(s.next().map((j) => j.index)).toEqual([0, 1]);
    s.start(0);
    s.start(1);
    s.finish(0);
    expect(s.next()).toEqual([]); // the barrier waits for 1 although its table is another
    s.finish(1);
    expect(s.next().map((j) => j.index)).toEqual([2]);
    s.start(2);
    expect(s.next()).toEqual([]); // nothing after the barrier before it completed
    s.finish(2);
    expect(s.next().map((j) => j.index)).toEqual([3, 4]);
  });

  it('respects the slot count', () => {
    expect(batches([build(0, 'a'), build(1, 'b'), build(2, 'c'), build(3, 'd')], 3)[0]).toHaveLength(3);
  });

  it('beside a partial/expression build, prefers a plain-column build (it is not waited for)', () => {
    // 0: expression build (long); 1: another expression build, longer; 2: plain, shorter
    const jobs = [build(0, 'a', 800, false), build(1, 'b', 900, false), build(2, 'c', 100, true)];
    const s = new Schedule(jobs, 2);
    expect(s.next().map((j) => j.index)).toEqual([1, 2]);
    s.start(1);
    s.start(2);
    s.finish(2);
    expect(s.next().map((j) => j.index)).toEqual([0]); // only choice left: still started
  });

  it('two plain-column builds pair up whatever their size', () => {
    const jobs = [build(0, 'a', 800, false), build(1, 'b', 900, true), build(2, 'c', 100, true)];
    expect(new Schedule(jobs, 2).next().map((j) => j.index)).toEqual([1, 0]);
    expect(new Schedule(jobs, 3).next().map((j) => j.index)).toEqual([1, 0, 2]);
  });
});

describe('simulate', () => {
  const jobs = [build(0, 'a', 100), build(1, 'b', 300), barrier(2, 'a', 50), build(3, 'c', 200), build(4, 'a', 200)];

  it('one at a time is the sum of the estimates', () => {
    expect(simulate(jobs, 1)).toBe(850);
  });

  it('side by side follows the schedule: 300 (0 ‖ 1), 50 (barrier), 200 (3 ‖ 4)', () => {
    expect(simulate(jobs, 2)).toBe(550);
  });

  it('builds side by side share the cores', () => {
    expect(simulate([build(0, 'a', 100), build(1, 'b', 100)], 2, { cores: 1 })).toBe(200);
    expect(simulate([build(0, 'a', 100), build(1, 'b', 100)], 2, { cores: 2 })).toBe(100);
  });

  it('with a measured slowdown, builds side by side take that many times as long; a build alone does not', () => {
    expect(simulate([build(0, 'a', 100), build(1, 'b', 100)], 2, { cores: 2, slowdown: 1.5 })).toBe(150);
    expect(simulate([build(0, 'a', 100), build(1, 'a', 100)], 2, { cores: 2, slowdown: 1.5 })).toBe(200); // one table: one at a time
    // 0 ‖ 1 until 1 ends (100 alone = 150), then 0 alone for its last 200
    expect(simulate([build(0, 'a', 300), build(1, 'b', 100)], 2, { slowdown: 1.5 })).toBe(350);
  });

  it('counts what running statements still need', () => {
    expect(simulate([build(1, 'b', 100)], 2, { running: [{ job: build(0, 'a', 500), remainingMs: 40 }] })).toBe(100);
    expect(simulate([barrier(1)], 2, { running: [{ job: build(0, 'a', 500), remainingMs: 40 }] })).toBe(50);
  });
});

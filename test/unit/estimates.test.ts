import {
  DEFAULT_MS_PER_UNIT,
  FIT_MIN,
  SMALL_MS,
  estimate,
  features,
  fitCosts,
  median,
  pickRate,
  rateOf,
  relativeError,
  scanRateOf,
  besideSlowdown,
  coreSharing,
  workUnits,
  type Sample,
  type Shape,
} from '../../src/core/engine/estimates.js';
import { sizeArg, untilArg } from '../../src/cli/args.js';
import { indexPredicate } from '../../src/core/engine/estimator.js';
import { buildWorkers, type Capacity } from '../../src/core/engine/capacity.js';

const build = (pages: number, tuples: number, o: Partial<Shape> = {}): Shape => ({
  kind: 'build',
  pages,
  tuples,
  keyWidth: 8,
  expression: false,
  partial: false,
  ...o,
});

/** Ground truth for the fitted costs: 12 ms fixed, 0.01 ms per heap page, 0.05 ms per page of index entries. */
const truth = (x: Shape) => {
  const f = features(x);
  return 12 * f[0] + 0.01 * f[1] + 0.05 * f[2];
};
/** FIT_MIN builds whose features are independent enough to fit the three costs exactly. */
const FIT_SHAPES = [
  build(10, 500),
  build(1000, 50_000),
  build(5000, 900_000, { keyWidth: 24 }),
  build(20_000, 300_000),
  build(300, 90_000, { partial: true, selectivity: 0.1 }),
];

describe('estimates', () => {
  it('a build costs more on a bigger table, more with an expression, less when partial', () => {
    expect(workUnits(build(2000, 200_000))).toBeGreaterThan(workUnits(build(1000, 100_000)));
    expect(workUnits(build(1000, 100_000, { expression: true }))).toBeGreaterThan(workUnits(build(1000, 100_000)));
    expect(workUnits(build(1000, 100_000, { partial: true }))).toBeLessThan(workUnits(build(1000, 100_000)));
    expect(workUnits(build(1000, 100_000, { keyWidth: 64 }))).toBeGreaterThan(workUnits(build(1000, 100_000)));
    expect(workUnits({ ...build(1000, 100_000), kind: 'small' })).toBe(0);
  });

  it('calibrates on this run first, then on the history, else the conservative default', () => {
    const run: Sample[] = [{ shape: build(1000, 100_000), ms: 500 }];
    const history: Sample[] = [{ shape: build(1000, 100_000), ms: 5000 }];
    expect(pickRate(run, history).source).toBe('this run');
    expect(pickRate([], history).source).toBe('history');
    expect(pickRate([], [])).toEqual({ msPerUnit: DEFAULT_MS_PER_UNIT, source: 'default', samples: 0 });
    // the rate reproduces the sample it was calibrated on
    const r = pickRate(run, history);
    expect(estimate(build(1000, 100_000), r).ms).toBeCloseTo(500, -1);
    expect(estimate(build(2000, 200_000), r).ms).toBeGreaterThan(900);
  });

  it('the default is slower than a measured rate of a normal machine (a window is not overrun)', () => {
    const measured = rateOf([{ shape: build(40_000, 2_000_000), ms: 2000 }])!;
    expect(DEFAULT_MS_PER_UNIT).toBeGreaterThan(measured);
  });

  it('big builds weigh most in the rate; samples without work are ignored', () => {
    const r = rateOf([
      { shape: build(100_000, 10_000_000), ms: 10_000 },
      { shape: build(1, 10), ms: 1000 },
      { shape: { ...build(0, 0), kind: 'small' }, ms: 99 },
    ])!;
    expect(estimate(build(100_000, 10_000_000), { msPerUnit: r, source: 'this run', samples: 2 }).ms).toBeLessThan(12_000);
    expect(rateOf([{ shape: { ...build(0, 0), kind: 'small' }, ms: 5 }])).toBeUndefined();
  });

  it('a few builds of tiny tables (faster than the fixed cost) make no rate: the next source is used, not 0 ms per unit', () => {
    const tiny: Sample[] = [
      { shape: build(30, 2000), ms: 26 },
      { shape: build(40, 3000), ms: 29 },
    ];
    expect(rateOf(tiny)).toBeUndefined();
    expect(pickRate(tiny, []).source).toBe('default');
    // a 1.5 s build of 2M rows was estimated at 41 ms after the first tiny build of a run
    expect(estimate(build(27_000, 2_000_000), pickRate(tiny, [])).ms).toBeGreaterThan(1500);
    const history: Sample[] = [{ shape: build(27_000, 2_000_000), ms: 1500 }];
    expect(pickRate(tiny, history).source).toBe('history');
    expect(pickRate([...tiny, ...history], []).source).toBe('this run');
    // five tiny builds are enough for the fitted costs (they fit the fixed cost): this run's, not the default
    const five: Sample[] = [
      [10, 500],
      [20, 3000],
      [30, 1000],
      [40, 5000],
      [60, 2000],
    ].map(([pages, tuples]) => ({ shape: build(pages, tuples), ms: 3 + pages * 0.02 + tuples * 0.001 }));
    expect(rateOf(five)).toBeUndefined();
    expect(pickRate(five, []).source).toBe('this run');
    expect(estimate(build(50, 3500), pickRate(five, [])).ms).toBeLessThan(50);
  });

  it('catalog-only statements: what the same statement took last time, else a fixed conservative figure', () => {
    const small = { ...build(0, 0), kind: 'small' as const };
    expect(estimate(small, pickRate([], []))).toEqual({ ms: SMALL_MS, source: 'fixed' });
    expect(estimate(small, pickRate([], []), { ms: 7, pages: 0 })).toEqual({ ms: 7, source: 'same statement' });
  });

  it('a scan (VALIDATE, a view query) is never estimated from the builds’ fitted costs, which may have no heap-page cost', () => {
    const scan: Shape = { ...build(27_000, 2_000_000), kind: 'scan' };
    // builds whose time is all fixed cost and index entries: the fitted heap-page cost is 0
    const builds = [build(10, 500), build(1000, 50_000), build(5000, 900_000), build(20_000, 300_000), build(300, 90_000)];
    const run = builds.map((shape) => ({ shape, ms: 20 + features(shape)[2] * 0.05 }));
    const rate = pickRate(run, []);
    expect(rate.fit?.[1]).toBe(0);
    expect(estimate(scan, rate).ms).toBeGreaterThan(100); // was 0 ms: a window would start it with any time left
    // scans already done (this run, else the history) give a rate per heap page
    const withScan = pickRate(run, [{ shape: { ...scan, pages: 10_000 }, ms: 1000 }]);
    expect(withScan.scanMsPerPage).toBeCloseTo(0.1);
    expect(estimate(scan, withScan).ms).toBe(2700);
    expect(scanRateOf(run)).toBeUndefined();
    // the same statement on this database: its last duration, scaled by the size of what it reads
    expect(estimate(scan, withScan, { ms: 3000, pages: 13_500 })).toEqual({ ms: 6000, source: 'same statement' });
    // before anything was measured: the conservative default
    expect(estimate(scan, pickRate([], [])).ms).toBe(Math.round(workUnits(scan) * DEFAULT_MS_PER_UNIT));
  });

  it('with enough builds, fits a fixed cost, a cost per heap page and one per index entry page', () => {
    const shapes = FIT_SHAPES;
    expect(shapes.length).toBe(FIT_MIN);
    const fit = fitCosts(shapes.map((shape) => ({ shape, ms: truth(shape) })))!;
    expect(fit[0]).toBeCloseTo(12, 3);
    expect(fit[1]).toBeCloseTo(0.01, 6);
    expect(fit[2]).toBeCloseTo(0.05, 6);
    const big = build(100_000, 5_000_000);
    expect(estimate(big, { msPerUnit: 1, source: 'this run', samples: 5, fit }).ms).toBeCloseTo(truth(big), -1);
    expect(fitCosts(shapes.slice(1).map((shape) => ({ shape, ms: truth(shape) })))).toBeUndefined(); // too few
  });

  it('a cost that would come out negative is dropped, never negative', () => {
    const shapes = [build(10, 500), build(1000, 50_000), build(5000, 900_000), build(20_000, 300_000), build(300, 90_000)];
    const fit = fitCosts(shapes.map((shape, i) => ({ shape, ms: 5 + features(shape)[1] * 0.02 + (i % 2) })))!;
    expect(fit.every((c) => c >= 0)).toBe(true);
  });

  it("a partial index's share of the rows counts; the index's WHERE is found outside parentheses and quotes", () => {
    expect(workUnits(build(1000, 100_000, { partial: true, selectivity: 0.01 }))).toBeLessThan(
      workUnits(build(1000, 100_000, { partial: true })),
    );
    expect(indexPredicate('(user_id, checklist_card_id) WHERE is_for_trade')).toBe('is_for_trade');
    expect(indexPredicate("(lower(name)) WHERE note <> 'where' AND (a > 1)")).toBe("note <> 'where' AND (a > 1)");
    expect(indexPredicate('(somewhere_id)')).toBeUndefined();
  });

  it('a build beside others takes longer than alone: measured on the builds of both kinds, never below 1', () => {
    const shapes = FIT_SHAPES;
    const alone: Sample[] = shapes.map((shape) => ({ shape, ms: truth(shape), sideBySide: 1 }));
    const beside: Sample[] = shapes.slice(1, 4).map((shape) => ({ shape, ms: 1.4 * truth(shape), sideBySide: 2 }));
    expect(besideSlowdown([...alone, ...beside])).toBeCloseTo(1.4, 1);
    expect(besideSlowdown(alone)).toBeUndefined(); // nothing measured beside others yet
    expect(besideSlowdown([...alone.slice(0, 3), ...beside])).toBeUndefined(); // too few alone for the costs
    expect(besideSlowdown([...alone, ...beside.map((x) => ({ ...x, ms: x.ms / 2 }))])).toBe(1);
    // four builds on two cores: half their speed is the cores' sharing, the rest is the slowdown
    const four: Sample[] = shapes.slice(1, 4).map((shape) => ({ shape, ms: 2 * 1.4 * truth(shape), sideBySide: 4 }));
    expect(besideSlowdown([...alone, ...four], 2)).toBeCloseTo(1.4, 1);
    expect(coreSharing(4, 2)).toBe(2);
    expect(coreSharing(2, 2)).toBe(1);
    expect(coreSharing(4, undefined)).toBe(1);
  });

  it('errors and medians', () => {
    expect(relativeError(130, 100)).toBeCloseTo(0.3);
    expect(relativeError(70, 100)).toBeCloseTo(0.3);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });
});

describe('--parallel and the server cores', () => {
  const cap = (cores: number | undefined, workersPerBuild = 2): Capacity => ({ maintenanceWorkMemBytes: 64 << 20, workersPerBuild, cores });
  it('N builds side by side, each a leader and its workers, take no more cores than the server has', () => {
    expect(buildWorkers(2, cap(2))).toBe(0); // two builds on two cores: no parallel workers on top
    expect(buildWorkers(4, cap(2))).toBe(0);
    expect(buildWorkers(2, cap(4))).toBe(1);
    expect(buildWorkers(2, cap(16))).toBeUndefined(); // enough cores: the server's setting stands
    expect(buildWorkers(2, cap(4, 0))).toBeUndefined(); // never more workers than the server allows
    expect(buildWorkers(1, cap(2))).toBeUndefined(); // one at a time: the server's setting
    expect(buildWorkers(2, cap(undefined))).toBeUndefined(); // cores unknown (remote server, no --server-cpus)
  });
});

describe('--until and --server-memory', () => {
  // 2026-12-02 01:30 UTC
  const now = () => Date.UTC(2026, 11, 2, 1, 30);
  it('is the next time the clock shows it, in UTC, an offset or a zone', () => {
    expect(new Date(untilArg('--until', now)('04:00Z')).toISOString()).toBe('2026-12-02T04:00:00.000Z');
    expect(new Date(untilArg('--until', now)('01:00Z')).toISOString()).toBe('2026-12-03T01:00:00.000Z'); // passed today: tomorrow
    expect(new Date(untilArg('--until', now)('04:00+01:00')).toISOString()).toBe('2026-12-02T03:00:00.000Z');
    expect(new Date(untilArg('--until', now)('04:00 Europe/Paris')).toISOString()).toBe('2026-12-02T03:00:00.000Z');
    expect(new Date(untilArg('--until', now)('22:30 America/New_York')).toISOString()).toBe('2026-12-02T03:30:00.000Z'); // still Dec 1 there
  });
  it('refuses what is not a time', () => {
    expect(() => untilArg('--until', now)('25:00')).toThrow(/--until must be a time/);
    expect(() => untilArg('--until', now)('soon')).toThrow(/--until must be a time/);
    expect(() => untilArg('--until', now)('04:00 Mars/Olympus')).toThrow(/unknown time zone/);
  });
  it('sizes', () => {
    expect(sizeArg('--server-memory')('16GB')).toBe(16 * 1024 ** 3);
    expect(sizeArg('--server-memory')('512MB')).toBe(512 * 1024 ** 2);
    expect(() => sizeArg('--server-memory')('lots')).toThrow(/--server-memory must be a size/);
  });
});

/**
 * How long a statement will take, from the size of what it works on and a rate calibrated on
 * builds already done (README "Estimates"). Pure: the catalog figures come in, milliseconds come out.
 */

/** What the estimate of a statement is made of. */
export interface Shape {
  /** build: CREATE INDEX CONCURRENTLY; scan: reads a whole table (VALIDATE, a view's query); small: catalog work. */
  kind: 'build' | 'scan' | 'small';
  /** Heap pages and live tuples of the table(s) it reads (pg_class). */
  pages: number;
  tuples: number;
  /** Average width in bytes of the index key (pg_stats), builds only. */
  keyWidth: number;
  /** An expression in the key (evaluated per row) or a WHERE clause (fewer entries). */
  expression: boolean;
  partial: boolean;
  /** Share of the rows a partial index holds (the planner's estimate of its WHERE); 1 when not partial. */
  selectivity?: number;
}

/** A statement that completed: its shape and how long it took. */
export interface Sample {
  shape: Shape;
  ms: number;
  /** Builds that ran at once while it ran (itself included; 1: alone). */
  sideBySide?: number;
}

/** Where a rate comes from, in the order they are tried. */
export type RateSource = 'this run' | 'history' | 'default';

export interface Rate {
  msPerUnit: number;
  source: RateSource;
  samples: number;
  /** Fitted on at least FIT_MIN builds: fixed ms, ms per heap page, ms per page of index entries. */
  fit?: [number, number, number];
  /** ms per heap page of the scans (VALIDATE, a view's query) among the same samples, when there are some. */
  scanMsPerPage?: number;
}

export interface Estimate {
  ms: number;
  source: RateSource | 'same statement' | 'fixed';
}

const PAGE = 8192;
/** Per index entry besides the key: item pointer, tuple header, sort slot. */
const ENTRY_OVERHEAD = 48;
/** A CONCURRENTLY build's own transactions and waits, whatever the table size. */
export const BUILD_FIXED_MS = 40;
/** Catalog-only statements (ALTER … NOT VALID, CREATE FUNCTION, GRANT…): conservative. */
export const SMALL_MS = 150;
/** Before any build has been measured: slow on purpose (a window must not be overrun): 1 ms per 16 kB of work. */
export const DEFAULT_MS_PER_UNIT = 1 / 16_384;

/**
 * Units of work, roughly bytes moved: a build scans the heap twice (build and validate) and
 * sorts and writes one entry per row (fewer for a partial index, dearer with an expression);
 * a scan reads the heap once.
 */
export function workUnits(s: Shape): number {
  const [, heap, entries] = features(s);
  return (heap + entries) * PAGE;
}

/** [fixed, heap pages read, pages of index entries sorted and written]: what a statement's time is a sum of. */
export function features(s: Shape): [number, number, number] {
  if (s.kind === 'small') return [0, 0, 0];
  if (s.kind === 'scan') return [0, s.pages, 0];
  const share = s.partial ? (s.selectivity ?? 0.5) : 1;
  const entries = (s.tuples * share * (s.keyWidth + ENTRY_OVERHEAD) * (s.expression ? 1.5 : 1)) / PAGE;
  return [1, 2 * s.pages, entries];
}

/** Builds needed before the three costs are fitted rather than one rate. */
export const FIT_MIN = 5;

/** Solves a small linear system (Gaussian elimination); undefined when singular. */
function solve(a: number[][], b: number[]): number[] | undefined {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    const p = m.slice(c).reduce((best, row, i) => (Math.abs(row[c]) > Math.abs(m[best][c]) ? c + i : best), c);
    if (Math.abs(m[p][c]) < 1e-12) return undefined;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return m.map((row, i) => row[n] / row[i]);
}

/**
 * Least squares on the relative error of each sample (a small build weighs as much as a big one),
 * with no negative cost: a term that comes out negative is dropped and the rest fitted again.
 */
export function fitCosts(samples: Sample[]): [number, number, number] | undefined {
  const rows = samples.filter((x) => x.shape.kind === 'build' && x.ms > 0).map((x) => ({ f: features(x.shape), y: x.ms }));
  if (rows.length < FIT_MIN) return undefined;
  let active = [0, 1, 2];
  for (;;) {
    const ata = active.map((i) => active.map((j) => rows.reduce((n, r) => n + (r.f[i] * r.f[j]) / (r.y * r.y), 0)));
    const atb = active.map((i) => rows.reduce((n, r) => n + r.f[i] / r.y, 0));
    const x = solve(ata, atb);
    if (!x) return undefined;
    const neg = x.findIndex((v) => v < 0);
    if (neg < 0) {
      const out: [number, number, number] = [0, 0, 0];
      active.forEach((i, k) => (out[i] = x[k]));
      return out[1] + out[2] > 0 ? out : undefined;
    }
    active = active.filter((_, k) => k !== neg);
    if (!active.length) return undefined;
  }
}

const fixedMs = (s: Shape) => (s.kind === 'build' ? BUILD_FIXED_MS : 0);

/**
 * Time beyond the fixed costs that samples must add up to before their rate is believed: a few
 * builds of tiny tables take less than BUILD_FIXED_MS each, and a rate from them is 0 ms per unit
 * (the next build on a big table would be estimated at BUILD_FIXED_MS).
 */
export const MIN_MEASURED_MS = 250;

/** The rate of the samples: total time over total work (big builds weigh most); undefined without enough work. */
export function rateOf(samples: Sample[]): number | undefined {
  const useful = samples.filter((x) => x.shape.kind !== 'small' && workUnits(x.shape) > 0);
  const units = useful.reduce((n, x) => n + workUnits(x.shape), 0);
  if (!useful.length || units < 1) return undefined;
  const ms = useful.reduce((n, x) => n + Math.max(0, x.ms - fixedMs(x.shape)), 0);
  if (ms < MIN_MEASURED_MS) return undefined;
  return ms / units;
}

/** The samples' calibration: their fitted costs (which fit the fixed cost too, so tiny builds count), else their rate. */
function calibration(samples: Sample[], source: RateSource): Rate | undefined {
  const fit = fitCosts(samples);
  const r = rateOf(samples);
  if (fit) return { msPerUnit: r ?? DEFAULT_MS_PER_UNIT, source, samples: samples.length, fit };
  return r === undefined ? undefined : { msPerUnit: r, source, samples: samples.length };
}

/** The rate to estimate with: this run's builds, else the history of this database, else the default. */
export function pickRate(run: Sample[], history: Sample[]): Rate {
  const scans = scanRateOf(run) ?? scanRateOf(history);
  const withScans = (x: Rate): Rate => (scans === undefined ? x : { ...x, scanMsPerPage: scans });
  return withScans(
    calibration(run, 'this run') ?? calibration(history, 'history') ?? { msPerUnit: DEFAULT_MS_PER_UNIT, source: 'default', samples: 0 },
  );
}

/** What this very statement took last time it ran on this database, and the pages it read then. */
export interface Previous {
  ms: number;
  pages: number;
}

/**
 * The estimate of one statement. `same` is what this very statement took last time: a
 * catalog-only statement takes that again; a scan (VALIDATE, a materialized view's query) takes it
 * scaled by how much its tables grew or shrank since.
 */
export function estimate(s: Shape, rate: Rate, same?: Previous): Estimate {
  if (s.kind === 'small') return same !== undefined ? { ms: same.ms, source: 'same statement' } : { ms: SMALL_MS, source: 'fixed' };
  if (s.kind === 'scan') return estimateScan(s, rate, same);
  if (rate.fit) {
    const f = features(s);
    return { ms: Math.round(f[0] * rate.fit[0] + f[1] * rate.fit[1] + f[2] * rate.fit[2]), source: rate.source };
  }
  return { ms: Math.round(fixedMs(s) + workUnits(s) * rate.msPerUnit), source: rate.source };
}

/**
 * A scan: its own last duration scaled by size, else the rate of the scans of the rate's samples
 * (ms per heap page), else the single rate of the builds (never their fitted costs: a fit whose
 * heap-page cost came out 0 would estimate a scan of any size at 0 ms, and a window would start it).
 */
function estimateScan(s: Shape, rate: Rate, same?: Previous): Estimate {
  if (same && same.pages > 0 && s.pages > 0) return { ms: Math.round(same.ms * (s.pages / same.pages)), source: 'same statement' };
  if (same && !(same.pages > 0)) return { ms: Math.round(same.ms), source: 'same statement' };
  if (rate.scanMsPerPage !== undefined) return { ms: Math.round(s.pages * rate.scanMsPerPage), source: rate.source };
  return { ms: Math.round(workUnits(s) * rate.msPerUnit), source: rate.source };
}

/** ms per heap page of the scans among the samples; undefined without any. */
export function scanRateOf(samples: Sample[]): number | undefined {
  const scans = samples.filter((x) => x.shape.kind === 'scan' && x.shape.pages > 0);
  const pages = scans.reduce((n, x) => n + x.shape.pages, 0);
  return scans.length && pages > 0 ? scans.reduce((n, x) => n + x.ms, 0) / pages : undefined;
}

/** Builds beside each other share the cores: k builds on `cores` cores run at most cores / k of their speed alone. */
export const coreSharing = (k: number, cores?: number) => (cores ? Math.max(1, k / cores) : 1);

/**
 * How many times longer than alone a build takes with on average `sideBySide` builds running
 * (itself included): the cores' sharing (when known) times the measured slowdown (1 until
 * measured); an average between 1 and 2 (beside another build part of the time) in between.
 */
export function besideFactor(sideBySide: number, slowdown?: number, cores?: number): number {
  if (sideBySide <= 1) return 1;
  const at = (k: number) => (slowdown ?? 1) * coreSharing(k, cores);
  return sideBySide < 2 ? 1 + (sideBySide - 1) * (at(2) - 1) : at(sideBySide);
}

/**
 * How much longer a build takes beside other builds than alone, beyond sharing the cores (memory
 * bandwidth, WAL, locks), from builds of both kinds: their time beside others, divided by the
 * cores' sharing, over what the costs fitted on the builds that ran alone say (big builds weigh
 * most). Undefined until FIT_MIN builds ran alone and 3 beside others; never below 1.
 */
export function besideSlowdown(samples: Sample[], cores?: number): number | undefined {
  const builds = samples.filter((x) => x.shape.kind === 'build' && x.ms > 0);
  const alone = builds.filter((x) => (x.sideBySide ?? 1) <= 1);
  const beside = builds.filter((x) => (x.sideBySide ?? 1) > 1);
  const fit = fitCosts(alone);
  if (!fit || beside.length < 3) return undefined;
  const rate: Rate = { msPerUnit: DEFAULT_MS_PER_UNIT, source: 'history', samples: alone.length, fit };
  const expected = beside.reduce((n, x) => n + estimate(x.shape, rate).ms, 0);
  const measured = beside.reduce((n, x) => n + x.ms / coreSharing(x.sideBySide ?? 1, cores), 0);
  return expected > 0 ? Math.max(1, measured / expected) : undefined;
}

/** |estimate − actual| / actual. */
export const relativeError = (estimateMs: number, actualMs: number) => Math.abs(estimateMs - actualMs) / Math.max(actualMs, 1);

export function median(xs: number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

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
}

/** A statement that completed: its shape and how long it took. */
export interface Sample {
  shape: Shape;
  ms: number;
}

/** Where a rate comes from, in the order they are tried. */
export type RateSource = 'this run' | 'history' | 'default';

export interface Rate {
  msPerUnit: number;
  source: RateSource;
  samples: number;
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
  const heap = s.pages * PAGE;
  if (s.kind === 'scan') return heap;
  if (s.kind === 'small') return 0;
  const entries = s.tuples * (s.keyWidth + ENTRY_OVERHEAD) * (s.partial ? 0.5 : 1) * (s.expression ? 1.5 : 1);
  return 2 * heap + entries;
}

const fixedMs = (s: Shape) => (s.kind === 'build' ? BUILD_FIXED_MS : 0);

/** The rate of the samples: total time over total work (big builds weigh most); undefined without work. */
export function rateOf(samples: Sample[]): number | undefined {
  const useful = samples.filter((x) => x.shape.kind !== 'small' && workUnits(x.shape) > 0);
  const units = useful.reduce((n, x) => n + workUnits(x.shape), 0);
  if (!useful.length || units < 1) return undefined;
  const ms = useful.reduce((n, x) => n + Math.max(0, x.ms - fixedMs(x.shape)), 0);
  return Math.max(ms / units, 1e-9);
}

/** The rate to estimate with: this run's builds, else the history of this database, else the default. */
export function pickRate(run: Sample[], history: Sample[]): Rate {
  const r = rateOf(run);
  if (r !== undefined) return { msPerUnit: r, source: 'this run', samples: run.length };
  const h = rateOf(history);
  if (h !== undefined) return { msPerUnit: h, source: 'history', samples: history.length };
  return { msPerUnit: DEFAULT_MS_PER_UNIT, source: 'default', samples: 0 };
}

/** The estimate of one statement; `sameStatementMs` is what this very statement took last time (small ones). */
export function estimate(s: Shape, rate: Rate, sameStatementMs?: number): Estimate {
  if (s.kind === 'small')
    return sameStatementMs !== undefined ? { ms: sameStatementMs, source: 'same statement' } : { ms: SMALL_MS, source: 'fixed' };
  return { ms: Math.round(fixedMs(s) + workUnits(s) * rate.msPerUnit), source: rate.source };
}

/** |estimate − actual| / actual. */
export const relativeError = (estimateMs: number, actualMs: number) => Math.abs(estimateMs - actualMs) / Math.max(actualMs, 1);

export function median(xs: number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

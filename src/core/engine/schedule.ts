/**
 * Which statements of a statement-by-statement migration may run side by side (`migrate
 * --parallel N`), and how long a plan takes by the estimates. Pure: no database, unit-tested.
 *
 * The rules (README "What runs side by side"):
 * - only CREATE INDEX CONCURRENTLY builds run side by side, at most N at once, each on its own session;
 * - a build starts only after every earlier statement on the same table has completed (PostgreSQL
 *   runs one concurrent build per table at a time: a second would wait for the first anyway);
 * - any other statement is a barrier: it starts when every earlier statement has completed, and
 *   nothing after it starts before it has completed;
 * - with N = 1 the order is the file's; with N > 1 the builds that may start are taken longest first,
 *   preferring pairings that do not wait on each other: since PostgreSQL 14 a build waits, before it
 *   ends, for the running builds of partial or expression indexes (never for plain-column ones), so
 *   while such a build runs a plain-column build is started rather than another partial/expression one.
 */

/** One statement as the scheduler sees it. */
export interface Job {
  /** 0-based position in the file. */
  index: number;
  /** CREATE INDEX CONCURRENTLY: may run beside other builds. */
  build: boolean;
  /** A build of plain columns (no expression, no WHERE): other builds do not wait for it. */
  plain: boolean;
  /** The table it touches, lower-cased and schema-qualified as written. */
  table?: string;
  estimateMs: number;
}

/** The run state of one script's pending statements. */
export class Schedule {
  private readonly pending: Job[];
  private readonly running = new Map<number, Job>();

  constructor(
    jobs: Job[],
    private readonly parallel: number,
  ) {
    this.pending = [...jobs].sort((a, b) => a.index - b.index);
  }

  get finished(): boolean {
    return !this.pending.length && !this.running.size;
  }

  get runningJobs(): Job[] {
    return [...this.running.values()];
  }

  get pendingJobs(): Job[] {
    return [...this.pending];
  }

  /** The statements that may start now, best first, as many as there are free slots. */
  next(): Job[] {
    const free = Math.max(1, this.parallel) - this.running.size;
    if (free <= 0 || !this.pending.length) return [];
    if ([...this.running.values()].some((j) => !j.build)) return []; // a barrier runs alone
    const first = this.pending[0];
    if (!first.build) return this.running.size ? [] : [first];
    const eligible: Job[] = [];
    const busy = new Set([...this.running.values()].map((j) => j.table));
    for (const j of this.pending) {
      if (!j.build) break; // a barrier: nothing after it before it has run
      if (busy.has(j.table)) continue;
      busy.add(j.table); // later statements on this table wait for this one
      eligible.push(j);
    }
    if (this.parallel <= 1) return eligible.slice(0, 1);
    const picked: Job[] = [];
    let waitedFor = [...this.running.values()].some((j) => !j.plain);
    while (picked.length < free && eligible.length) {
      eligible.sort((a, b) => rank(a, waitedFor) - rank(b, waitedFor) || b.estimateMs - a.estimateMs || a.index - b.index);
      const j = eligible.shift()!;
      picked.push(j);
      waitedFor ||= !j.plain;
    }
    return picked;
  }

  start(index: number): void {
    const at = this.pending.findIndex((j) => j.index === index);
    if (at < 0) throw new Error(`statement ${index} is not pending`);
    this.running.set(index, this.pending.splice(at, 1)[0]);
  }

  finish(index: number): void {
    this.running.delete(index);
  }
}

/** While a partial/expression build runs, another one would wait for it: such candidates come last. */
const rank = (j: Job, waitedFor: boolean) => (waitedFor && !j.plain ? 1 : 0);

/**
 * How long the jobs take by their estimates (each alone), run as the schedule would run them.
 * `running` are jobs already started, with the time each still needs. With `cores`, builds side
 * by side share them (each runs at min(1, cores / running) of its own speed); with `slowdown`,
 * a build beside others takes that many times as long as alone (Estimator.slowdown, measured).
 */
export function simulate(
  jobs: Job[],
  parallel: number,
  o: { running?: { job: Job; remainingMs: number }[]; cores?: number; slowdown?: number } = {},
): number {
  const all = [...(o.running ?? []).map((r) => r.job), ...jobs];
  const s = new Schedule(all, parallel);
  const left = new Map<number, number>();
  for (const r of o.running ?? []) {
    s.start(r.job.index);
    left.set(r.job.index, Math.max(0, r.remainingMs));
  }
  let t = 0;
  for (;;) {
    for (const j of s.next()) {
      s.start(j.index);
      left.set(j.index, Math.max(0, j.estimateMs));
    }
    if (s.finished) return t;
    const speed = (o.cores ? Math.min(1, o.cores / left.size) : 1) / (left.size > 1 ? (o.slowdown ?? 1) : 1);
    const [index, ms] = [...left.entries()].reduce((a, b) => (b[1] < a[1] ? b : a));
    const dt = ms / speed;
    t += dt;
    for (const [i, v] of left) left.set(i, v - dt * speed);
    left.delete(index);
    s.finish(index);
    for (const [i, v] of left)
      if (v <= 1e-9) {
        left.delete(i);
        s.finish(i);
      }
  }
}

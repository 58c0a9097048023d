/**
 * Pure pacing and mix logic of the under-writes run: no database, no clock of its own (times
 * are milliseconds since the writers started, passed in).
 */

/** The kinds of write the app does all day. */
export type WriteKind = 'card_insert' | 'card_update' | 'like' | 'message' | 'follow';
/** same: by one of the users the readers read; other: by anyone else. */
export type WriteGroup = 'same' | 'other';

export const WRITE_KINDS: readonly WriteKind[] = ['card_insert', 'card_update', 'like', 'message', 'follow'];

/** Share of each kind among the writes (sums to 1): an assumed app mix, not a production measurement. */
export type WriteMix = Record<WriteKind, number>;

export const DEFAULT_MIX: WriteMix = { card_insert: 0.25, card_update: 0.25, like: 0.25, message: 0.15, follow: 0.1 };

/**
 * A mix from `kind=weight,…` (e.g. `card_insert=40,like=40,message=20`): the weights are
 * scaled to sum to 1, a kind left out gets 0. Throws a one-line message on an unknown or
 * repeated kind, a weight that is not a number ≥ 0, or weights that sum to 0.
 */
export function parseWriteMix(text: string): WriteMix {
  const mix: WriteMix = { card_insert: 0, card_update: 0, like: 0, message: 0, follow: 0 };
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    const m = /^\s*([a-z_]+)\s*=\s*([0-9]*\.?[0-9]+)\s*$/.exec(part);
    if (!m) throw new Error(`"${part.trim()}" is not kind=weight (kinds: ${WRITE_KINDS.join(', ')})`);
    const [, kind, weight] = m;
    if (!(WRITE_KINDS as readonly string[]).includes(kind))
      throw new Error(`unknown write kind "${kind}" (kinds: ${WRITE_KINDS.join(', ')})`);
    if (seen.has(kind)) throw new Error(`write kind "${kind}" given twice`);
    seen.add(kind);
    mix[kind as WriteKind] = Number(weight);
  }
  const total = WRITE_KINDS.reduce((a, k) => a + mix[k], 0);
  if (!(total > 0)) throw new Error('the weights sum to 0: nobody would write (--write-rate 0 is the control)');
  for (const k of WRITE_KINDS) mix[k] /= total;
  return mix;
}

/** One writer's open-loop schedule: slot k is due at offsetMs + k × intervalMs. */
export interface WriterSchedule {
  intervalMs: number;
  offsetMs: number;
}

/**
 * W writers sharing a total rate: each at rate / W, staggered so that together their slots
 * are evenly spaced, the first one a spacing after the start (so that by any time t at most
 * t × rate slots are due). A rate of 0 gives no writer (the control).
 */
export function writerSchedules(ratePerSec: number, writers: number): WriterSchedule[] {
  if (!(ratePerSec > 0) || writers < 1) return [];
  const intervalMs = (1000 * writers) / ratePerSec;
  return Array.from({ length: writers }, (_, w) => ({ intervalMs, offsetMs: ((w + 1) * intervalMs) / writers }));
}

/** How many slots of a schedule are due by `elapsedMs` (the most writes it allows by then). */
export function slotsDue(s: WriterSchedule, elapsedMs: number): number {
  if (elapsedMs < s.offsetMs) return 0;
  return Math.floor((elapsedMs - s.offsetMs) / s.intervalMs) + 1;
}

/** When slot k is due. */
export const slotAt = (s: WriterSchedule, k: number): number => s.offsetMs + k * s.intervalMs;

/**
 * The slot to run next, after slot `k - 1` was done at `elapsedMs`. A writer that is behind
 * runs late slots at once but catches up at most `maxBehind` of them: older ones are skipped
 * (counted), so a stall never turns into a burst and the rate never exceeds the schedule.
 */
export function nextSlot(s: WriterSchedule, k: number, elapsedMs: number, maxBehind = 2): { slot: number; skipped: number } {
  const due = slotsDue(s, elapsedMs); // slots 0 .. due-1 are due
  const earliest = Math.max(k, due - maxBehind);
  return { slot: earliest, skipped: earliest - k };
}

/** The fractional part, in [0, 1). */
const frac = (x: number) => x - Math.floor(x);
/** Two rationally independent Weyl steps: the n-th picks are spread evenly and independently of each other. */
const KIND_STEP = (Math.sqrt(5) - 1) / 2;
const GROUP_STEP = Math.SQRT2 - 1;

/** The kind of a writer's n-th write: the mix's shares, spread evenly over the sequence (deterministic). */
export function pickKind(mix: WriteMix, n: number, writer = 0): WriteKind {
  const total = WRITE_KINDS.reduce((a, k) => a + mix[k], 0);
  const u = frac(n * KIND_STEP + writer / 7) * total;
  let acc = 0;
  for (const k of WRITE_KINDS) {
    acc += mix[k];
    if (u < acc) return k;
  }
  return WRITE_KINDS.filter((k) => mix[k] > 0).at(-1)!;
}

/** Whether a writer's n-th write is by a read user: `share` of them, spread evenly (deterministic). */
export function pickGroup(share: number, n: number, writer = 0): WriteGroup {
  return frac(n * GROUP_STEP + writer / 11) < share ? 'same' : 'other';
}

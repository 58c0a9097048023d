import {
  DEFAULT_MIX,
  nextSlot,
  parseWriteMix,
  pickGroup,
  pickKind,
  slotAt,
  slotsDue,
  writerSchedules,
  WRITE_KINDS,
  type WriteKind,
} from '../../src/core/bench/write-schedule.js';
import { readUsers, targetFor, type WriteTargets } from '../../src/core/bench/write-targets.js';

describe('under-writes pacing (open loop)', () => {
  it('splits the total rate over the writers, staggered evenly; rate 0 is no writer', () => {
    const s = writerSchedules(200, 4);
    expect(s.map((x) => x.intervalMs)).toEqual([20, 20, 20, 20]);
    expect(s.map((x) => x.offsetMs)).toEqual([5, 10, 15, 20]);
    const all = s.flatMap((x) => [0, 1, 2].map((k) => slotAt(x, k))).sort((a, b) => a - b);
    expect(all.slice(0, 6)).toEqual([5, 10, 15, 20, 25, 30]);
    expect(writerSchedules(0, 4)).toEqual([]);
    expect(writerSchedules(50, 0)).toEqual([]);
  });

  it('never allows more slots by time t than t × rate', () => {
    for (const [rate, writers] of [
      [200, 4],
      [7, 3],
      [1000, 16],
      [1, 1],
    ]) {
      const s = writerSchedules(rate, writers);
      for (const t of [0, 1, 4.9, 5, 99, 1000, 12_345]) {
        const due = s.reduce((n, x) => n + slotsDue(x, t), 0);
        expect(due).toBeLessThanOrEqual(Math.floor((t * rate) / 1000 + 1e-9));
        expect(due).toBeGreaterThanOrEqual(Math.floor((t * rate) / 1000) - writers);
      }
    }
  });

  it('a writer on time takes the next slot; one that fell behind runs at most the last 2 due slots and skips older ones', () => {
    const [s] = writerSchedules(100, 1); // a slot every 10 ms from 10 ms
    expect(nextSlot(s, 0, 0)).toEqual({ slot: 0, skipped: 0 });
    expect(nextSlot(s, 3, 25)).toEqual({ slot: 3, skipped: 0 }); // ahead: waits for slot 3 (at 40 ms)
    expect(nextSlot(s, 3, 41)).toEqual({ slot: 3, skipped: 0 }); // slot 3 due just now
    expect(nextSlot(s, 3, 51)).toEqual({ slot: 3, skipped: 0 }); // slots 3 and 4 due: runs both, late
    expect(nextSlot(s, 3, 61)).toEqual({ slot: 4, skipped: 1 }); // slots 3..5 due: runs the last 2, skips 3
    expect(nextSlot(s, 3, 1000)).toEqual({ slot: 98, skipped: 95 }); // a long stall: no burst
    // simulated: a writer whose writes take 25 ms at a 10 ms schedule does one write per 25 ms, never more than due
    let k = 0;
    let t = 0;
    let done = 0;
    while (t < 10_000) {
      const n = nextSlot(s, k, t);
      t = Math.max(t, slotAt(s, n.slot)) + 25;
      k = n.slot + 1;
      done++;
      expect(done).toBeLessThanOrEqual(slotsDue(s, t));
    }
    expect(done).toBeGreaterThan(380);
    expect(done).toBeLessThanOrEqual(400);
  });
});

describe('under-writes mix and same-user share', () => {
  it('the kinds follow the mix over a run, for every writer', () => {
    for (const writer of [0, 1, 5]) {
      const n = 2000;
      const count = Object.fromEntries(WRITE_KINDS.map((k) => [k, 0])) as Record<WriteKind, number>;
      for (let i = 0; i < n; i++) count[pickKind(DEFAULT_MIX, i, writer)]++;
      for (const k of WRITE_KINDS) expect(Math.abs(count[k] / n - DEFAULT_MIX[k])).toBeLessThan(0.01);
    }
    const onlyLikes = { card_insert: 0, card_update: 0, like: 1, message: 0, follow: 0 };
    expect(new Set(Array.from({ length: 100 }, (_, i) => pickKind(onlyLikes, i)))).toEqual(new Set(['like']));
  });

  it('the share of writes by the read users is the one asked, independently of the kind', () => {
    for (const share of [0, 0.1, 0.5, 0.9, 1]) {
      const n = 5000;
      let same = 0;
      let sameLikes = 0;
      let likes = 0;
      for (let i = 0; i < n; i++) {
        const g = pickGroup(share, i, 2);
        if (g === 'same') same++;
        if (pickKind(DEFAULT_MIX, i, 2) === 'like') {
          likes++;
          if (g === 'same') sameLikes++;
        }
      }
      expect(Math.abs(same / n - share)).toBeLessThan(0.01);
      expect(Math.abs(sameLikes / likes - share)).toBeLessThan(0.05);
    }
  });
});

describe('under-writes targets', () => {
  const t = (same: string[], other: string[]): WriteTargets => {
    const of = (ids: string[]) => ({
      card_insert: [],
      card_update: [],
      like: ids.map((id) => ({ post_id: id, user_id: id })),
      message: [],
      follow: [],
    });
    return { same: of(same), other: of(other) };
  };

  it('the read users are the first parameter of every set, once each', () => {
    expect(
      readUsers([
        [
          ['12', 3],
          ['5', 4],
        ],
        [['12'], [7]],
        [[null, 1]],
      ]),
    ).toEqual(['5', '7', '12']);
  });

  it('each writer cycles through its own share of the rows; falls back to the whole list, then to the other group', () => {
    const targets = t(['a', 'b', 'c', 'd', 'e'], ['x']);
    const ids = (writer: number, writers: number, group: 'same' | 'other') =>
      Array.from({ length: 4 }, (_, use) => {
        const r = targetFor(targets, 'like', group, writer, writers, use)!;
        return `${r.group}:${(r.target as { post_id: string }).post_id}`;
      });
    expect(ids(0, 2, 'same')).toEqual(['same:a', 'same:c', 'same:e', 'same:a']);
    expect(ids(1, 2, 'same')).toEqual(['same:b', 'same:d', 'same:b', 'same:d']);
    expect(ids(3, 4, 'other')).toEqual(['other:x', 'other:x', 'other:x', 'other:x']); // fewer rows than writers
    expect(ids(0, 1, 'other')).toEqual(['other:x', 'other:x', 'other:x', 'other:x']);
    const noOther = t(['a'], []);
    expect(targetFor(noOther, 'like', 'other', 0, 1, 0)).toEqual({ group: 'same', target: { post_id: 'a', user_id: 'a' } });
    expect(targetFor(noOther, 'message', 'same', 0, 1, 0)).toBeUndefined();
  });
});

describe('--write-mix', () => {
  it('scales the weights to sum to 1; a kind left out is not written', () => {
    expect(parseWriteMix('card_insert=40, like=40,message=20')).toEqual({
      card_insert: 0.4,
      card_update: 0,
      like: 0.4,
      message: 0.2,
      follow: 0,
    });
    expect(parseWriteMix('follow=1')).toEqual({ card_insert: 0, card_update: 0, like: 0, message: 0, follow: 1 });
    const mix = parseWriteMix('card_insert=3,card_update=1');
    const kinds = Array.from({ length: 400 }, (_, n) => pickKind(mix, n));
    const inserts = kinds.filter((k) => k === 'card_insert').length;
    // the picks are spread evenly (a Weyl sequence): within one or two of the exact shares
    expect([Math.abs(inserts - 300) <= 2, kinds.filter((k) => k === 'card_update').length]).toEqual([true, 400 - inserts]);
  });

  it('refuses an unknown or repeated kind, a weight that is not a number ≥ 0, and weights summing to 0', () => {
    expect(() => parseWriteMix('cards=10')).toThrow(
      /^unknown write kind "cards" \(kinds: card_insert, card_update, like, message, follow\)$/,
    );
    expect(() => parseWriteMix('like=1,like=2')).toThrow('write kind "like" given twice');
    expect(() => parseWriteMix('like=-1')).toThrow(/"like=-1" is not kind=weight/);
    expect(() => parseWriteMix('like')).toThrow(/"like" is not kind=weight/);
    expect(() => parseWriteMix('like=0,follow=0')).toThrow(/sum to 0/);
  });
});

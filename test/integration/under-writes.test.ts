import { join } from 'node:path';
import { migrate } from '../../src/core/migrate.js';
import { underWritesPhase } from '../../src/core/bench/under-writes.js';
import { DEFAULT_MIX, type WriteMix } from '../../src/core/bench/write-schedule.js';
import { pickTargets, readUsers, sequenceState, undoWrites, UNDER_WRITES_TAG } from '../../src/core/bench/write-targets.js';
import { startWriters } from '../../src/core/bench/writers.js';
import { loadWorkloads, pickParams, type Workload } from '../../src/core/bench/workloads.js';
import { BoosterzError, ExitCode, InterruptedError } from '../../src/errors.js';
import { dataChecksums, generateData, SQL_DIR } from '../helpers/data.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/sessions.js';

// The under-writes run of `bench`: writers at a fixed rate on an open-loop schedule, a share of
// them by the users the readers read, everything undone afterwards, a failing writer or an
// interruption stopping them all. Timing bounds are wide on purpose (2 noisy cores).

const dirs = { migrationsDir: join(process.cwd(), 'migrations'), rollbackDir: join(process.cwd(), 'rollback'), emit: () => undefined };
let db: TestDatabase;
let workloads: Workload[];
let params: Map<string, unknown[][]>;
let users: string[];

/** Everything the writers could change: every generated table's contents, and the identity sequences. */
const state = async () => ({ data: await dataChecksums(db.sql), sequences: await sequenceState(db.sql) });
const writerSessions = async () =>
  (
    await db.sql<
      { n: number }[]
    >`select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name like '%:writer-%'`
  )[0].n;
/** A backend leaves pg_stat_activity a moment after its client has closed the connection. */
const writersGone = () => waitFor('the writer sessions to end', async () => (await writerSessions()) === 0, 10_000);
/** Many runs per workload: the readers outlast the writers' failure or the abort by far. */
const manyParams = async (count: number) => {
  const m = new Map<string, unknown[][]>();
  for (const w of workloads) m.set(w.name, await pickParams(db.sql, w, { seed: 3, count }));
  return m;
};
const phase = (
  variant: 'plain' | 'optimized',
  o: { ratePerSec?: number; sameUserShare?: number; signal?: AbortSignal; mix?: WriteMix } = {},
) => ({
  variant,
  sqlDir: SQL_DIR,
  seed: 1,
  warmup: 1,
  leadMs: 200,
  writers: 4,
  ratePerSec: o.ratePerSec ?? 100,
  sameUserShare: o.sameUserShare ?? 0.5,
  signal: o.signal,
  mix: o.mix,
});

beforeAll(async () => {
  db = await freshDatabase('underwrites');
  await migrate(db.sql, { ...dirs, to: 1, lint: false });
  await generateData(db.sql, 0.01);
  workloads = await loadWorkloads(SQL_DIR);
  params = await manyParams(12);
  users = readUsers(params.values());
}, 120_000);
afterAll(async () => {
  await db?.drop();
});

describe('under writes, before the migration', () => {
  it('writers keep to the rate (never above the schedule), the same-user share holds, and the undo restores the data exactly', async () => {
    const before = await state();
    const targets = await pickTargets(db.sql, SQL_DIR, { readUsers: users, seed: 1 });
    for (const g of ['same', 'other'] as const) for (const k of Object.values(targets[g])) expect(k.length).toBeGreaterThan(0);
    const sequences = await sequenceState(db.sql);
    const rate = 100;
    const writers = await startWriters(db.sql, targets, { ratePerSec: rate, writers: 4, sameUserShare: 0.3, mix: DEFAULT_MIX });
    try {
      expect(await writerSessions()).toBe(4);
      await new Promise((r) => setTimeout(r, 3000)); // the measurement period itself
      const s = await writers.stop();
      await writersGone();

      const allowed = Math.floor((s.durationMs * rate) / 1000);
      expect(s.scheduled).toBeLessThanOrEqual(allowed);
      expect(s.writes).toBeLessThanOrEqual(s.scheduled);
      expect(s.writes).toBeGreaterThanOrEqual(0.5 * allowed);
      expect(Object.values(s.byKind).reduce((a, b) => a + b, 0)).toBe(s.writes);
      for (const k of Object.values(s.byKind)) expect(k).toBeGreaterThan(0);
      expect(Math.abs(s.sameUser / s.writes - 0.3)).toBeLessThan(0.1);

      // what reached the database: the tagged rows, and who wrote them
      const [rows] = await db.sql<{ cards: number; messages: number; same: number }[]>`
      select (select count(*)::int from cards where notes = ${UNDER_WRITES_TAG}) as cards,
             (select count(*)::int from messages where starts_with(content, ${UNDER_WRITES_TAG})) as messages,
             (select count(*)::int from cards where notes = ${UNDER_WRITES_TAG} and user_id = any(${users}::bigint[]))
             + (select count(*)::int from messages where starts_with(content, ${UNDER_WRITES_TAG}) and sender_id = any(${users}::bigint[])) as same`;
      expect([rows.cards, rows.messages]).toEqual([s.byKind.card_insert, s.byKind.message]);
      expect(Math.abs(rows.same / (rows.cards + rows.messages) - 0.3)).toBeLessThan(0.15);
      expect(await state()).not.toEqual(before);
    } finally {
      await writers.stop();
      await undoWrites(db.sql, targets, sequences);
    }
    expect(await state()).toEqual(before);
  }, 120_000);

  it('rate 0 is the control: no writer session, no write', async () => {
    const targets = await pickTargets(db.sql, SQL_DIR, { readUsers: users, seed: 1 });
    const writers = await startWriters(db.sql, targets, { ratePerSec: 0, writers: 4, sameUserShare: 0.5, mix: DEFAULT_MIX });
    await writersGone();
    expect((await writers.stop()).writes).toBe(0);
  });

  it('a phase times the four read workloads under writes and leaves the data as it was', async () => {
    const before = await state();
    const p = await underWritesPhase(db.sql, workloads, params, phase('plain'));
    expect(p.workloads.map((w) => [w.name, w.timing.runs])).toEqual(workloads.map((w) => [w.name, 11]));
    for (const w of p.workloads) expect(w.timing.p99Ms).toBeGreaterThanOrEqual(w.timing.p95Ms);
    expect(p.writes.writes).toBeGreaterThan(0);
    expect(p.staleMarks).toBeUndefined();
    expect(await state()).toEqual(before);
  }, 120_000);

  it('with minWritingMs the reads repeat in rounds until the writers have written that long (the after phase writes as long as the before one)', async () => {
    const before = await state();
    const p = await underWritesPhase(db.sql, workloads, params, { ...phase('plain'), minWritingMs: 3000 });
    expect(p.rounds).toBeGreaterThan(1);
    expect(p.writes.durationMs).toBeGreaterThanOrEqual(3000);
    for (const w of p.workloads) expect(w.timing.runs).toBe(11 * p.rounds);
    expect(await state()).toEqual(before);
  }, 120_000);

  it('a failing writer fails the phase with one line and exit 1, stops every writer and the readers, and leaves nothing', async () => {
    const before = await state();
    await db.sql.unsafe(`
      create function refuse_messages() returns trigger language plpgsql as $$
        begin raise exception 'chat is read-only today' using errcode = '42501'; end $$;
      create trigger refuse_messages before insert on messages for each row execute function refuse_messages();`);
    try {
      const t0 = performance.now();
      const err = await underWritesPhase(db.sql, workloads, await manyParams(3000), phase('plain', { ratePerSec: 200 })).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BoosterzError);
      const e = err as BoosterzError;
      expect(e.exitCode).toBe(ExitCode.checkFailed);
      expect(e.message).toMatch(/^bench under writes: writer \d failed on a chat message: chat is read-only today \(SQLSTATE 42501\);/);
      expect(e.message).not.toContain('\n');
      expect(performance.now() - t0).toBeLessThan(60_000); // the readers (3000 runs per workload) stopped early
      await writersGone();
    } finally {
      await db.sql.unsafe('drop trigger refuse_messages on messages; drop function refuse_messages()');
    }
    expect(await state()).toEqual(before);
  }, 120_000);

  it('an abort (Ctrl-C) stops the writers and the readers promptly, undoes the writes, and says interrupted', async () => {
    const before = await state();
    const abort = new AbortController();
    const running = underWritesPhase(db.sql, workloads, await manyParams(3000), phase('plain', { ratePerSec: 50, signal: abort.signal }))
      .then(() => undefined)
      .catch((e: unknown) => e);
    await waitFor(
      'the writers to have written',
      async () => (await db.sql`select 1 from cards where notes = ${UNDER_WRITES_TAG} limit 1`).length > 0,
    );
    const t0 = performance.now();
    abort.abort();
    const err = await running;
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(err).toBeInstanceOf(InterruptedError);
    expect((err as InterruptedError).exitCode).toBe(ExitCode.interrupted);
    await writersGone();
    expect(await state()).toEqual(before);
  }, 120_000);
});

describe('under writes, after the migration', () => {
  beforeAll(async () => {
    await migrate(db.sql, { ...dirs, lint: false, orphans: 'detach', yes: true });
    await db.sql`select refresh_materialized_views(true)`;
  }, 120_000);

  it('the read users’ writes leave their view rows stale (counted), the undo restores the data', async () => {
    const before = await state();
    // no follows here: a follow also marks the followed user, who need not be a read user
    const mix = { card_insert: 0.4, card_update: 0.3, like: 0.2, message: 0.1, follow: 0 };
    const p = await underWritesPhase(db.sql, workloads, params, phase('optimized', { sameUserShare: 1, mix }));
    expect(p.writes.sameUser).toBe(p.writes.writes);
    expect(p.staleMarks).toBeGreaterThan(0);
    expect(await state()).toEqual(before);
    // the marks pending now are those of the users whose rows the writers (then the undo) changed: read users only
    const [m] = await db.sql<{ others: number; read: number }[]>`
      select count(*) filter (where not user_id = any(${users}::bigint[]))::int as others,
             count(*) filter (where user_id = any(${users}::bigint[]))::int as read
        from materialized_view_stale_marks where user_id is not null`;
    expect(m.read).toBeGreaterThan(0);
    expect(m.others).toBe(0);
    await db.sql`select refresh_materialized_views(true)`;
  }, 120_000);
});

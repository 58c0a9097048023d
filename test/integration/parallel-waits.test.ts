import postgres from 'postgres';
import type { Sql } from '../../src/db/connection.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/sessions.js';

/**
 * The PostgreSQL rule that `migrate --parallel` schedules by (src/core/engine/schedule.ts), on the
 * server itself (run on 14 and 18: BOOSTERZ_MATRIX=14,18 node test/matrix.mjs <this file>): since
 * PostgreSQL 14 a CREATE INDEX CONCURRENTLY waits, before it ends, for a running build of a partial
 * or expression index, and never for a running build of plain columns.
 *
 * A build is held in the middle of its table scan, deterministically, by an advisory lock that the
 * test holds: an immutable function that takes it (an expression build), or an operator class
 * whose comparison function takes it (a plain-column build: PostgreSQL only looks at expressions
 * and predicates to tell the two apart).
 */
let db: TestDatabase;
const clients: Sql[] = [];
const session = () => {
  const c = postgres(db.url, { max: 1, onnotice: () => undefined, prepare: false }) as unknown as Sql;
  clients.push(c);
  return c;
};
const GATE = 4242;

beforeAll(async () => {
  db = await freshDatabase('pwait');
  await db.sql.unsafe(`
    create function public.gate(v int) returns int language plpgsql immutable as $$
      begin perform pg_advisory_lock_shared(${GATE}); perform pg_advisory_unlock_shared(${GATE}); return v; end $$;
    create function public.gate_cmp(a int, b int) returns int language plpgsql immutable as $$
      begin perform pg_advisory_lock_shared(${GATE}); perform pg_advisory_unlock_shared(${GATE}); return btint4cmp(a, b); end $$;
    create operator class public.gate_int_ops for type int using btree as
      operator 1 <, operator 2 <=, operator 3 =, operator 4 >=, operator 5 >, function 1 public.gate_cmp(int, int);
    create table public.t1 (v int); create table public.t2 (v int); create table public.t3 (v int);
    insert into public.t1 select g from generate_series(1, 500) g;
    insert into public.t2 select g from generate_series(1, 500) g;
    insert into public.t3 select g from generate_series(1, 500) g;`);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end({ timeout: 1 })));
  await db.drop();
});

/** Starts a build on its own session; resolves to its pid and its completion. */
async function startBuild(text: string): Promise<{ pid: number; done: Promise<'done'> }> {
  const s = session();
  const [{ pid }] = await s<{ pid: number }[]>`select pg_backend_pid() as pid`;
  const done = s.unsafe(text).then(() => 'done' as const);
  done.catch(() => undefined);
  return { pid, done };
}

const waitingOnGate = async (pid: number) => {
  const [r] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from pg_locks where pid = ${pid} and locktype = 'advisory' and not granted and objid = ${GATE}`;
  return r.n > 0;
};

/** The build on `pid` waits, in its last phase, for the backend `on` (an older snapshot). */
const waitsFor = async (pid: number, on: number) => {
  const [r] = await db.sql<{ phase: string | null; locker: number | null }[]>`
    select phase, current_locker_pid::int as locker from pg_stat_progress_create_index where pid = ${pid}`;
  return !!r && r.phase === 'waiting for old snapshots' && r.locker === on;
};

async function withGate(fn: () => Promise<void>): Promise<void> {
  const holder = session();
  await holder.unsafe(`select pg_advisory_lock(${GATE})`);
  try {
    await fn();
  } finally {
    await holder.unsafe(`select pg_advisory_unlock(${GATE})`);
  }
}

describe('CREATE INDEX CONCURRENTLY side by side (PostgreSQL 14+)', () => {
  it('a plain-column build and a partial build wait for a running expression build', async () => {
    let held!: { pid: number; done: Promise<'done'> };
    let plain!: { pid: number; done: Promise<'done'> };
    let partial!: { pid: number; done: Promise<'done'> };
    await withGate(async () => {
      held = await startBuild('create index concurrently t1_gate_idx on public.t1 (public.gate(v))');
      await waitFor('the expression build to hold at the gate', () => waitingOnGate(held.pid));
      plain = await startBuild('create index concurrently t2_v_idx on public.t2 (v)');
      partial = await startBuild('create index concurrently t3_v_idx on public.t3 (v) where v > 10');
      await waitFor('the plain build to wait for the expression build', () => waitsFor(plain.pid, held.pid), 60_000);
      await waitFor('the partial build to wait for the expression build', () => waitsFor(partial.pid, held.pid), 60_000);
    });
    expect(await Promise.all([held.done, plain.done, partial.done])).toEqual(['done', 'done', 'done']);
    await db.sql.unsafe('drop index public.t1_gate_idx, public.t2_v_idx, public.t3_v_idx');
  }, 120_000);

  it('no build waits for a running plain-column build', async () => {
    let held!: { pid: number; done: Promise<'done'> };
    await withGate(async () => {
      held = await startBuild('create index concurrently t1_op_idx on public.t1 (v public.gate_int_ops)');
      await waitFor('the plain-column build to hold at the gate', () => waitingOnGate(held.pid));
      // both complete while the plain-column build still holds its snapshot at the gate
      const expression = await startBuild('create index concurrently t2_abs_idx on public.t2 (abs(v))');
      const plain = await startBuild('create index concurrently t3_v_idx on public.t3 (v)');
      // resolves if the build waits for the held one (it must not): the race shows which comes first
      const stuck = (b: { pid: number; done: Promise<'done'> }) =>
        new Promise<'waited'>((res) => {
          const t = setInterval(() => void waitsFor(b.pid, held.pid).then((w) => w && res('waited')), 50);
          void b.done.finally(() => clearInterval(t));
        });
      expect(await Promise.race([expression.done, stuck(expression)])).toBe('done');
      expect(await Promise.race([plain.done, stuck(plain)])).toBe('done');
      expect(await waitingOnGate(held.pid)).toBe(true);
    });
    expect(await held.done).toBe('done');
  }, 120_000);
});

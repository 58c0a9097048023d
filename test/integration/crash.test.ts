import { snapshot, diffSnapshots, formatDiff, type Snapshot } from '../../src/core/checks/catalog.js';
import { cliOn, runCliUntil } from '../helpers/cli.js';
import { dataChecksums, generateData, SQL_DIR } from '../helpers/data.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * SIGKILL and SIGINT of `migrate` at several random points on generated data: the rerun must
 * finish, the catalog must equal a clean run's, nothing INVALID or NOT VALID may remain, and
 * no row of data may change.
 */
let db: TestDatabase;
let clean: Snapshot;
let data: Record<string, string>;

const cli = cliOn(() => db.url, { timeoutMs: 300_000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Deterministic "random" kill points: after statement k of the 128 has completed (k in 1..89),
 * plus 0–400 ms into the next ones, so every kill lands inside the run whatever the machine's speed.
 */
function killPoints(n: number, seed: number): [number, number][] {
  let x = seed;
  const next = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: n }, () => [1 + Math.floor(next() * 84), Math.round(next() * 400)]);
}

/** Signals the process; it may have finished on its own just before (then there is nothing to resume). */
function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Holds the tool's history and journal tables against writes (reads go on) until release(). */
async function holdBookkeeping(): Promise<{ release(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const held = new Promise<void>((r) => (locked = r));
  const tx = db.sql.begin(async (t) => {
    await t`lock table boosterz_db.schema_history, boosterz_db.statement_journal in exclusive mode`;
    locked();
    await released;
  });
  await Promise.race([held, tx]);
  return {
    release: async () => {
      release();
      await tx;
    },
  };
}

async function assertRecovered(label: string) {
  const after = await snapshot(db.sql, SQL_DIR);
  const d = formatDiff(diffSnapshots(clean, after));
  expect({ label, diff: d }).toEqual({ label, diff: [] });
  const [{ invalid, notValid }] = await db.sql<{ invalid: number; notValid: number }[]>`
    select (select count(*)::int from pg_index where not indisvalid) as invalid,
           (select count(*)::int from pg_constraint where not convalidated) as "notValid"`;
  expect({ label, invalid, notValid }).toEqual({ label, invalid: 0, notValid: 0 });
  expect(await dataChecksums(db.sql)).toEqual(data);
  const st = JSON.parse((await cli(['status', '--json'])).stdout);
  expect(st.lines.every((l: { state: string }) => l.state === 'applied')).toBe(true);
}

beforeAll(async () => {
  db = await freshDatabase('crash');
  await db.sql.unsafe(`alter database ${db.name} set maintenance_work_mem = '1MB'`); // index builds sort on disk: slower, wider windows
  expect((await cli(['migrate', '--to', '1'])).code).toBe(0);
  await generateData(db.sql, 0.1);
  data = await dataChecksums(db.sql);
  const r = await cli(['migrate']);
  expect(r.code).toBe(0);
  clean = await snapshot(db.sql, SQL_DIR);
  expect((await cli(['rollback', '--to', '1', '--yes'])).code).toBe(0);
}, 300_000);

afterAll(async () => {
  await db.drop();
});

describe('crash resume on generated data', () => {
  it.each(killPoints(3, 42))(
    'SIGKILL after statement %i + %i ms: the rerun finishes and nothing is lost',
    async (k, delay) => {
      const { pid, result } = await runCliUntil(['-d', db.url, 'migrate'], new RegExp(`\\[${k}/128\\] `), { timeoutMs: 300_000 });
      await sleep(delay);
      if (signal(pid, 'SIGKILL')) expect((await result).signal).toBe('SIGKILL');
      else await result;
      const rerun = await cli(['migrate', '--lock-wait', '60s']);
      expect({ code: rerun.code, err: rerun.code ? rerun.stderr : '' }).toEqual({ code: 0, err: '' });
      await assertRecovered(`SIGKILL after statement ${k} + ${delay} ms`);
      expect((await cli(['rollback', '--to', '1', '--yes'])).code).toBe(0);
    },
    300_000,
  );

  it.each(killPoints(2, 7))(
    'SIGINT after statement %i + %i ms: exit 130, the rerun finishes and nothing is lost',
    async (k, delay) => {
      const { pid, result } = await runCliUntil(['-d', db.url, 'migrate'], new RegExp(`\\[${k}/128\\] `), { timeoutMs: 300_000 });
      // the run cannot finish before the signal: its next history or journal write waits for this lock
      const hold = await holdBookkeeping();
      await sleep(delay);
      expect(signal(pid, 'SIGINT')).toBe(true);
      await hold.release();
      const stopped = await result;
      expect({ code: stopped.code, resume: /rerun to resume/.test(stopped.stderr) }).toEqual({ code: 130, resume: true });
      const rerun = await cli(['migrate']);
      expect({ code: rerun.code, err: rerun.code ? rerun.stderr : '' }).toEqual({ code: 0, err: '' });
      await assertRecovered(`SIGINT after statement ${k} + ${delay} ms`);
      expect((await cli(['rollback', '--to', '1', '--yes'])).code).toBe(0);
    },
    300_000,
  );
});

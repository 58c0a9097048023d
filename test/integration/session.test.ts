import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BoosterzError } from '../../src/errors.js';
import { withJobLock } from '../../src/db/lock.js';
import { openSession } from '../../src/db/session.js';
import { ROOT } from '../helpers/cli.js';
import { client, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { alterDatabase, JOB_KEYS, lockHolderPid, terminate, waitFor } from '../helpers/sessions.js';

const run = promisify(execFile);

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('session');
});
afterAll(async () => {
  await db.drop();
});

/** Runs an ES module snippet in a fresh node (so an uncaught exception ends that process, not jest). */
async function node(script: string): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, db.url], { cwd: ROOT, timeout: 30_000 });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const PRELUDE = `
  import postgres from 'postgres';
  const url = process.argv[1];
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  process.on('uncaughtException', (e) => { console.log('UNCAUGHT ' + e.constructor.name + ': ' + e.message); process.exit(7); });
  const gone = async (pid) => {
    await admin\`select pg_terminate_backend(\${pid})\`;
    while ((await admin\`select 1 from pg_stat_activity where pid = \${pid}\`).length) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100)); // the client reads the close
  };
`;

describe('postgres.js 3.4.9 on a session that has ended (why src/db/session.ts exists)', () => {
  it('a query on a reserved connection whose backend was terminated throws an uncaught TypeError from setImmediate', async () => {
    const r = await node(`${PRELUDE}
      const sql = postgres(url, { max: 2, onnotice: () => {} });
      const conn = await sql.reserve();
      const [{ pid }] = await conn\`select pg_backend_pid() as pid\`;
      await gone(pid);
      conn\`select 1\`.then(() => console.log('resolved'), (e) => console.log('rejected ' + e.code));
    `);
    // no promise settles: the TypeError comes from connection.js nextWrite (socket is null after closed())
    expect(r.stdout.trim()).toBe("UNCAUGHT TypeError: Cannot read properties of null (reading 'write')");
    expect(r.code).toBe(7);
  });

  it('releasing such a connection poisons the pool: its next query throws the same TypeError', async () => {
    const r = await node(`${PRELUDE}
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      const conn = await sql.reserve();
      const [{ pid }] = await conn\`select pg_backend_pid() as pid\`;
      await gone(pid);
      conn.release();
      sql\`select 1\`.then(() => console.log('resolved'), (e) => console.log('rejected ' + e.code));
    `);
    expect(r.stdout.trim()).toBe("UNCAUGHT TypeError: Cannot read properties of null (reading 'write')");
  });
});

describe('openSession', () => {
  it('a terminated idle session: `lost` fires, the next query rejects as a lost connection, nothing is thrown uncaught', async () => {
    const r = await node(`${PRELUDE}
      const { createClient } = await import('./dist/db/connection.js');
      const { openSession } = await import('./dist/db/session.js');
      const { isConnectionLoss } = await import('./dist/errors.js');
      const pool = createClient({ url }, { command: 'test' });
      const s = await openSession(pool, { name: 'job' });
      s.lost.addEventListener('abort', () => console.log('lost: ' + s.lost.reason.message));
      await gone(s.pid);
      await s.sql\`select 1\`.then(() => console.log('resolved'), (e) => console.log('rejected ' + e.code + ' loss=' + isConnectionLoss(e)));
      console.log('pool ' + (await pool\`select 1 as x\`)[0].x);
      await s.close(); await pool.end(); await admin.end();
    `);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^lost: the database session boosterz-db\/test:job \(pid \d+\) ended/m);
    expect(r.stdout).toMatch(/^rejected CONNECTION_ENDED loss=true$/m);
    expect(r.stdout).toMatch(/^pool 1$/m);
    expect(r.stdout).not.toMatch(/UNCAUGHT/);
  });

  it('a statement in flight when the session is terminated rejects at once; the session never reconnects', async () => {
    const pool = client(db.url);
    const admin = client(db.url, 1);
    const s = await openSession(pool, { name: 'job' });
    try {
      const slow = s.sql`select pg_sleep(30)`.then(
        () => 'done',
        (e: { code?: string }) => e.code,
      );
      await waitFor(
        'the sleep to run',
        async () => (await admin`select 1 from pg_stat_activity where pid = ${s.pid} and state = 'active'`).length,
      );
      const t0 = Date.now();
      await terminate(admin, [s.pid]);
      expect(await slow).toMatch(/^(CONNECTION_CLOSED|57P01)$/);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(s.lost.aborted).toBe(true);
      await expect(s.sql`select pg_backend_pid()`).rejects.toMatchObject({ code: 'CONNECTION_ENDED' });
    } finally {
      await s.close();
      await pool.end();
      await admin.end();
    }
  });

  it("has the tool's session settings: idle_session_timeout and a read-only default on the database do not touch it", async () => {
    const admin = client(db.url, 1);
    await alterDatabase(admin, db.name, { idle_session_timeout: '300ms', default_transaction_read_only: 'on', search_path: 'pg_catalog' });
    const pool = client(db.url);
    try {
      const s = await openSession(pool);
      try {
        // idle for longer than the database's idle_session_timeout: a session without the settings is ended by then
        await new Promise((r) => setTimeout(r, 900));
        expect(s.lost.aborted).toBe(false);
        const [row] = await s.sql<{ pid: number; ro: string; path: string; idle: string }[]>`
          select pg_backend_pid() as pid, current_setting('default_transaction_read_only') as ro,
                 current_setting('search_path') as path, current_setting('idle_session_timeout') as idle`;
        expect(row).toEqual({ pid: s.pid, ro: 'off', path: 'public', idle: '0' });
      } finally {
        await s.close();
      }
    } finally {
      await alterDatabase(admin, db.name, { idle_session_timeout: null, default_transaction_read_only: null, search_path: null });
      await pool.end();
      await admin.end();
    }
  });
});

describe('withJobLock', () => {
  it('holds the lock on the session that does the work; when that session ends the work stops with exit 5, no uncaught error', async () => {
    const pool = client(db.url);
    const admin = client(db.url, 1);
    let after = 'not reached';
    try {
      const err = await withJobLock(pool, JOB_KEYS.refresh, 'refresh of the materialized views', async (s) => {
        expect(await lockHolderPid(admin, JOB_KEYS.refresh)).toBe(s.pid);
        await terminate(admin, [s.pid]);
        await waitFor('the session to be seen as lost', () => s.lost.aborted);
        await s.sql`select 1`; // the job's next statement
        after = 'ran';
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(after).toBe('not reached');
      expect(err).toBeInstanceOf(BoosterzError);
      expect((err as BoosterzError).exitCode).toBe(5);
      expect((err as BoosterzError).data.lostConnection).toBe(true);
      expect((err as Error).message).toMatch(
        /^lost the database session that held the lock of the refresh of the materialized views \(pid \d+\): /,
      );
      expect(await lockHolderPid(admin, JOB_KEYS.refresh)).toBeUndefined();
    } finally {
      await pool.end();
      await admin.end();
    }
  });
});

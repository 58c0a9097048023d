import type { ReservedSql, Sql } from '../../src/db/connection.js';
import { openSession, withReserved } from '../../src/db/session.js';
import { withTransaction } from '../../src/db/sql.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

/** withTransaction (db/sql.ts) on a held connection: commit, rollback, probes, local settings, a lost connection. */
let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('tx');
  await db.sql`create table t (id int)`;
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  await db.sql`truncate t`;
});

const rows = async () => (await db.sql<{ id: number }[]>`select id from t order by id`).map((r) => r.id);

/** The same connection, with every `unsafe` text it is given recorded (BEGIN, COMMIT, ROLLBACK go through it). */
function recorded<T extends Sql | ReservedSql>(conn: T): { conn: T; sent: string[] } {
  const sent: string[] = [];
  const proxy = new Proxy(conn, {
    get(target, key, receiver) {
      if (key !== 'unsafe') return Reflect.get(target, key, receiver) as unknown;
      return (text: string) => {
        sent.push(text);
        return target.unsafe(text);
      };
    },
  });
  return { conn: proxy, sent };
}

describe('withTransaction', () => {
  it('commits what fn did; isolation and timeouts hold inside the transaction only', async () => {
    await withReserved(db.sql, async (held) => {
      const { conn, sent } = recorded(held);
      const inside = await withTransaction(
        conn,
        { isolation: 'repeatable read', lockTimeoutMs: 1234, statementTimeoutMs: 5000 },
        async () => {
          await conn`insert into t values (1)`;
          const [r] = await conn<{ iso: string; lt: string; st: string }[]>`
          select current_setting('transaction_isolation') as iso, current_setting('lock_timeout') as lt,
                 current_setting('statement_timeout') as st`;
          return r;
        },
      );
      expect(inside).toEqual({ iso: 'repeatable read', lt: '1234ms', st: '5s' });
      const [after] = await conn<{ lt: string }[]>`select current_setting('lock_timeout') as lt`;
      expect(after.lt).not.toBe('1234ms');
      expect(sent).toEqual(['begin isolation level repeatable read', 'commit']);
    });
    expect(await rows()).toEqual([1]);
  });

  it('rolls back and rethrows when fn throws', async () => {
    await withReserved(db.sql, async (held) => {
      const { conn, sent } = recorded(held);
      const run = withTransaction(conn, {}, async () => {
        await conn`insert into t values (2)`;
        await conn`select 1 / 0`;
      });
      await expect(run).rejects.toMatchObject({ code: '22012' });
      expect(sent).toEqual(['begin', 'rollback']);
    });
    expect(await rows()).toEqual([]);
  });

  it('rollback: true returns what fn found and keeps none of its changes', async () => {
    const found = await withReserved(db.sql, (conn) =>
      withTransaction(conn, { rollback: true }, async () => {
        await conn`insert into t values (3)`;
        const [r] = await conn<{ n: number }[]>`select count(*)::int as n from t`;
        return r.n;
      }),
    );
    expect(found).toBe(1);
    expect(await rows()).toEqual([]);
  });

  it('sends no ROLLBACK once the connection is lost, and rethrows the loss', async () => {
    const session = await openSession(db.sql, { name: 'tx-test' });
    try {
      const { conn, sent } = recorded(session.sql);
      const run = withTransaction(conn, {}, async () => {
        await conn`insert into t values (4)`;
        await db.sql`select pg_terminate_backend(${session.pid})`;
        if (!session.lost.aborted) await new Promise((r) => session.lost.addEventListener('abort', r, { once: true }));
        await conn`insert into t values (5)`;
      });
      await expect(run).rejects.toMatchObject({ code: 'CONNECTION_ENDED' });
      expect(sent).toEqual(['begin']);
    } finally {
      await session.close();
    }
    expect(await rows()).toEqual([]);
  });
});

import { isConnectionLoss } from '../../errors.js';
import { failure } from './failure.js';
import { deleteHistory, setState } from './history.js';
import { setLocalLockTimeout, withLockRetries } from './retries.js';
import { checkAbort, exec, Interrupted, ref, type RunContext } from './run-context.js';
import type { Script, Statement } from './types.js';

/** All statements in one transaction, with the history change: all or nothing. A lock timeout retries the whole transaction. */
export async function runTransactional(s: Script, ctx: RunContext): Promise<void> {
  const { conn, emit, signal } = ctx;
  checkAbort(signal, `before ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version}`);
  let current: Statement | undefined;
  try {
    await withLockRetries(
      ctx,
      ref(s, s.statements[0] ?? ({ index: 0, line: 1, kind: 'transaction', transactional: true } as Statement), ctx),
      async () => {
        const started = performance.now();
        await conn.unsafe('begin');
        try {
          await setLocalLockTimeout(ctx);
          for (const st of s.statements) {
            current = st;
            const t0 = performance.now();
            emit({ type: 'statement:start', ...ref(s, st, ctx) });
            await exec(ctx, ref(s, st, ctx), st.text);
            emit({ type: 'statement:done', ...ref(s, st, ctx), durationMs: performance.now() - t0 });
          }
          if (s.direction === 'down') await deleteHistory(conn, s.version);
          else
            await setState(conn, {
              version: s.version,
              name: s.name,
              checksum: s.checksum,
              state: 'applied',
              durationMs: performance.now() - started,
              statements: s.statements.length,
            });
          await conn.unsafe('commit');
        } catch (err) {
          if (!isConnectionLoss(err)) await conn.unsafe('rollback').catch(() => undefined);
          throw err;
        }
      },
    );
  } catch (err) {
    if (err instanceof Interrupted || signal?.aborted)
      throw new Interrupted(`during ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version}; its transaction was rolled back`);
    if (!current) throw err; // failed before its first statement (begin / set_config): nothing ran
    const state = `the transaction was rolled back: nothing of ${s.direction === 'up' ? 'migration' : 'the rollback of'} ${s.version} was applied`;
    if (s.direction === 'up' && !isConnectionLoss(err)) {
      await setState(conn, {
        version: s.version,
        name: s.name,
        checksum: s.checksum,
        state: 'failed',
        error: (err as Error).message,
      }).catch(() => undefined);
    }
    throw failure(s, current, err, state);
  }
}

import { InterruptedError, isConnectionLoss, windowEndedError } from '../../errors.js';
import { failure } from './failure.js';
import { deleteHistory, setState } from './history.js';
import { setLocalLockTimeout, withLockRetries } from './retries.js';
import { checkAbort, exec, interrupted, ref, type RunContext } from './run-context.js';
import type { Script, Statement } from './types.js';
import { formatWindowLeft } from './window.js';

/** All statements in one transaction, with the history change: all or nothing. A lock timeout retries the whole transaction. */
export async function runTransactional(s: Script, ctx: RunContext): Promise<void> {
  const { conn, emit, signal } = ctx;
  checkAbort(signal, `before ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version}`);
  const first = ref(s, s.statements[0] ?? ({ index: 0, line: 1, kind: 'transaction', transactional: true } as Statement), ctx);
  await ctx.beforeStatement?.(first, signal);
  checkAbort(signal, `before ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version}`);
  const estimates = s.statements.map((st) => ctx.estimator?.estimate(st).ms ?? 0);
  const totalMs = estimates.reduce((a, b) => a + b, 0);
  if (ctx.deadline !== undefined && s.statements.length && totalMs > ctx.deadline - Date.now()) {
    throw windowEndedError(
      ctx.total - ctx.offset,
      [
        formatWindowLeft(s, s.statements[0], totalMs, ctx.deadline - Date.now()).replace(
          /^next: statement \S+/,
          'next: migration in one transaction, from statement 1',
        ),
      ],
      {
        version: s.version,
        statement: 1,
      },
    );
  }
  emit({ type: 'eta', etaMs: Math.round(totalMs + (ctx.laterMs ?? 0)), left: ctx.total - ctx.offset, running: 1 });
  let current: Statement | undefined;
  const took: number[] = [];
  try {
    await withLockRetries(ctx, first, async () => {
      const started = performance.now();
      await conn.unsafe('begin');
      try {
        await setLocalLockTimeout(ctx);
        for (const st of s.statements) {
          current = st;
          const t0 = performance.now();
          emit({ type: 'statement:start', ...ref(s, st, ctx), estimateMs: estimates[st.index] });
          await exec(ctx, ref(s, st, ctx), st.text);
          took[st.index] = performance.now() - t0;
          emit({ type: 'statement:done', ...ref(s, st, ctx), durationMs: took[st.index], estimateMs: estimates[st.index] });
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
    });
  } catch (err) {
    if (err instanceof InterruptedError || signal?.aborted)
      throw interrupted(`during ${s.direction === 'up' ? 'migration' : 'rollback of'} ${s.version}; its transaction was rolled back`);
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
  for (const st of s.statements) {
    ctx.estimator?.observe(st, took[st.index] ?? 0);
    await ctx.estimator?.record(conn, s, st, took[st.index] ?? 0, estimates[st.index], 1);
  }
}

import { sqlState } from '../../errors.js';
import { checkAbort, type RunContext } from './run-context.js';
import type { StatementRef } from './types.js';
import { sleep } from './sleep.js';

/** Runs fn; on a lock timeout (55P03) waits with backoff and jitter and runs it again. */
export async function withLockRetries<T>(ctx: RunContext, r: StatementRef, fn: () => Promise<T>): Promise<T> {
  const retries = ctx.lockRetries ?? 10;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (sqlState(err) !== '55P03' || attempt > retries || ctx.signal?.aborted) throw err;
      const delayMs = Math.round(Math.min(30_000, (ctx.retryBaseMs ?? 500) * 2 ** (attempt - 1)) * (0.5 + Math.random()));
      ctx.emit({ type: 'retry', ...r, attempt, of: retries, delayMs, reason: (err as Error).message });
      await sleep(delayMs, ctx.signal);
      checkAbort(ctx.signal, `while waiting to retry statement ${r.n}`);
    }
  }
}

export const setLocalLockTimeout = (ctx: RunContext) =>
  ctx.conn`select set_config('lock_timeout', ${`${ctx.lockTimeoutMs ?? 2000}ms`}, true)`;

/**
 * Session-level lock_timeout around fn, for statements that cannot run in a transaction (where
 * SET LOCAL has nothing to attach to); the previous value (0 on the migration session) comes
 * back afterwards, also when fn fails.
 */
export async function withSessionLockTimeout<T>(ctx: RunContext, fn: () => Promise<T>): Promise<T> {
  const [{ before }] = await ctx.conn<{ before: string }[]>`select current_setting('lock_timeout') as before`;
  await ctx.conn`select set_config('lock_timeout', ${`${ctx.lockTimeoutMs ?? 2000}ms`}, false)`;
  try {
    return await fn();
  } finally {
    await ctx.conn`select set_config('lock_timeout', ${before}, false)`.catch(() => undefined);
  }
}

import { ReplicaThrottle, type ThrottleEvent } from '../core/engine/replicas.js';
import type { LagLimit } from '../core/engine/types.js';
import type { Sql } from '../db/connection.js';
import { formatMs, type Output } from './output.js';
import { formatBytes } from './render.js';

/** A line for a throttle event (shared by refresh-views, cleanup and the daemon). */
export function throttleLine(e: Exclude<ThrottleEvent, { type: 'warning' }>): string {
  if (e.type === 'throttle:done') return `standbys within the limit again after ${formatMs(e.waitedMs)}: going on with ${e.before}`;
  return (
    `throttled before ${e.before}: standby ${e.standby} lags ${e.lagBytes === null ? '?' : formatBytes(e.lagBytes)}` +
    `${e.lagMs === null ? '' : ` / ${formatMs(e.lagMs)}`} (limit ${e.limit}), waiting ${formatMs(e.waitedMs)}`
  );
}

/**
 * The wait before each batch or refresh of a maintenance command: none without a limit;
 * else a ReplicaThrottle on the pool, its events as lines on stderr (NDJSON with --json).
 */
export function replicaGate(out: Output, sql: Sql, limit: LagLimit | null) {
  if (!limit) return undefined;
  let last = 0;
  const throttle = new ReplicaThrottle(sql, limit, (e) => {
    if (e.type === 'warning') return out.warn(e.message);
    if (out.json) return out.jsonLine({ ...e, ts: new Date().toISOString() });
    if (e.type === 'throttle' && e.waitedMs > 0 && performance.now() - last < 10_000) return;
    last = performance.now();
    out.info(throttleLine(e));
  });
  return (what: string, signal?: AbortSignal) => throttle.wait(what, signal);
}

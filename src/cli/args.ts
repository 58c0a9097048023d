import { InvalidArgumentError, Option, type Command } from 'commander';
import { isScale, SCALE_RANGE } from '../core/bench/scale.js';
import { parseWriteMix, type WriteMix } from '../core/bench/write-schedule.js';

/** Parses a non-negative integer option (at least `min`, at most `max`). */
export function intArg(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}${max < Number.MAX_SAFE_INTEGER ? ` and ≤ ${max}` : ''}`);
    return Number(v);
  };
}

/** Parses a data scale (generate.ts isScale). */
export function scaleArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !isScale(n)) throw new InvalidArgumentError(`${name} must be ${SCALE_RANGE}`);
    return n;
  };
}

/** Parses a finite number option (at least `min`). */
export function numberArg(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min) throw new InvalidArgumentError(`${name} must be a number ≥ ${min}`);
    return n;
  };
}

/** Parses a share between 0 and 1 (`0.5`). */
export function shareArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${name} must be a number from 0 to 1`);
    return n;
  };
}

/** `kind=weight,…` → the under-writes mix (weights scaled to sum to 1). */
export function writeMixArg(name: string) {
  return (v: string): WriteMix => {
    try {
      return parseWriteMix(v);
    } catch (err) {
      throw new InvalidArgumentError(`${name}: ${(err as Error).message}`);
    }
  };
}

/** `2s`, `500ms`, `5m`, or a plain number of seconds → milliseconds. */
export function durationArg(name: string) {
  return (v: string): number => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|min|h)?$/.exec(v.trim());
    if (!m) throw new InvalidArgumentError(`${name} must be a duration like 2s, 500ms, 5m or a number of seconds`);
    const unit = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
    return Number(m[1]) * unit;
  };
}

/** `--max-replica-lag`: a duration (`30s`, `500ms`, `5m`), a size (`256MB`, `1GB`, `512kB`), or `off`. */
export function lagArg(name: string) {
  return (v: string): { ms: number } | { bytes: number } | null => {
    const t = v.trim();
    if (/^(off|none|0)$/i.test(t)) return null;
    const size = /^(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB|TB)$/i.exec(t);
    if (size) {
      const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 }[size[2].toLowerCase()]!;
      return { bytes: Number(size[1]) * unit };
    }
    try {
      return { ms: durationArg(name)(t) };
    } catch {
      throw new InvalidArgumentError(`${name} must be a duration like 30s or 5m, a size like 256MB or 1GB, or off`);
    }
  };
}

/** The parsed values of the options that `addLockOptions` adds (milliseconds, count). */
export interface LockFlags {
  lockWait: number;
  lockTimeout: number;
  lockRetries: number;
}

/** The lock discipline options of the commands that take the migration lock (migrate, rollback). */
export function addLockOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--lock-wait <duration>', 'wait this long for another run holding the migration lock')
        .default(0)
        .argParser(durationArg('--lock-wait')),
    )
    .addOption(
      new Option('--lock-timeout <duration>', 'lock_timeout for statements that take strong locks')
        .default(2000, '2s')
        .argParser(durationArg('--lock-timeout')),
    )
    .addOption(
      new Option('--lock-retries <n>', 'retries after a lock timeout, with backoff and jitter')
        .default(10)
        .argParser(intArg('--lock-retries', 0)),
    );
}

/** `--max-replica-lag` (migrate, refresh-views, cleanup): default 30s. */
export function addLagOption(cmd: Command, what: string): Command {
  return cmd.addOption(
    new Option('--max-replica-lag <limit>', `before ${what}, wait while a streaming standby lags more than this (30s, 256MB, off)`)
      .default({ ms: 30_000 }, '30s')
      .argParser(lagArg('--max-replica-lag')),
  );
}

/** `16GB`, `512MB`, `1.5TB`, or bytes → bytes. */
export function sizeArg(name: string) {
  return (v: string): number => {
    const m = /^(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB|TB)?$/i.exec(v.trim());
    if (!m) throw new InvalidArgumentError(`${name} must be a size like 16GB or 512MB`);
    const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 }[(m[2] ?? 'b').toLowerCase()]!;
    return Math.round(Number(m[1]) * unit);
  };
}

/** The offset (ms) of an IANA zone from UTC at `at`. */
function zoneOffsetMs(zone: string, at: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(at));
  const n = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  return Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second')) - Math.floor(at / 1000) * 1000;
}

/**
 * `--until HH:MM[:SS]` in local time, or with a zone (`04:00Z`, `04:00+01:00`, `04:00 Europe/Paris`):
 * the next time the clock shows it (today, else tomorrow), as epoch ms.
 */
export function untilArg(name: string, now: () => number = Date.now) {
  return (v: string): number => {
    const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(Z|[+-]\d{2}:?\d{2}|[A-Za-z_]+\/[A-Za-z_/+-]+|UTC)?$/.exec(v.trim());
    const [h, min, sec] = m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [];
    if (!m || h! > 23 || min! > 59 || sec! > 59)
      throw new InvalidArgumentError(`${name} must be a time like 04:00, 04:00:30, 04:00Z, 04:00+01:00 or "04:00 Europe/Paris"`);
    const zone = m[4];
    const t = now();
    const day = 86_400_000;
    const clock = ((h! * 60 + min!) * 60 + sec!) * 1000;
    let offset: (at: number) => number; // local clock = UTC + offset
    if (!zone) offset = (at) => -new Date(at).getTimezoneOffset() * 60_000;
    else if (zone === 'Z' || zone === 'UTC') offset = () => 0;
    else if (/^[+-]/.test(zone)) {
      const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
      const ms = (Number(z[2]) * 60 + Number(z[3])) * 60_000 * (z[1] === '-' ? -1 : 1);
      offset = () => ms;
    } else {
      try {
        zoneOffsetMs(zone, t);
      } catch {
        throw new InvalidArgumentError(`${name}: unknown time zone ${zone}`);
      }
      offset = (at) => zoneOffsetMs(zone, at);
    }
    const localNow = t + offset(t);
    let target = Math.floor(localNow / day) * day + clock - offset(t);
    if (target <= t) target += day;
    return target - (offset(target) - offset(t)); // a DST change between now and then
  };
}

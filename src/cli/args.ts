import { InvalidArgumentError, Option, type Command } from 'commander';

/** Parses a non-negative integer option (at least `min`). */
export function intArg(name: string, min = 0) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return Number(v);
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

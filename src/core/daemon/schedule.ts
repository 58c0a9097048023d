import { createTask, validateDetailed } from 'node-cron';
import { usageError } from '../../errors.js';

/** Checks a cron expression (5 fields, or 6 with seconds); throws a usage error (exit 2) with the reason. */
export function checkCron(flag: string, expr: string): void {
  const v = validateDetailed(expr);
  if (!v.valid) {
    const why = v.errors.map((e) => `${e.field}${e.value !== undefined ? ` "${e.value}"` : ''}: ${e.message}`).join('; ');
    throw usageError(
      `${flag} "${expr}" is not a valid cron expression: ${why || 'expected 5 fields (minute hour day month weekday) or 6 with seconds first'}`,
    );
  }
}

/** Checks an IANA time zone name; throws a usage error (exit 2). */
export function checkTimezone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw usageError(`--timezone "${tz}" is not an IANA time zone (e.g. Europe/Paris, UTC)`);
  }
}

export const hostTimezone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

/** The next `count` times a cron expression fires in a time zone. */
export function nextRuns(expr: string, timezone: string, count = 3): Date[] {
  const task = createTask(expr, () => undefined, { timezone });
  try {
    return task.getNextRuns(count);
  } finally {
    void task.destroy();
  }
}

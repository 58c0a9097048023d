/** Exit codes of the command-line contract (../README.md "Exit codes"). */
export const ExitCode = {
  ok: 0,
  checkFailed: 1,
  usage: 2,
  connection: 3,
  locked: 4,
  statementFailed: 5,
  refused: 6,
  windowEnded: 7,
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error meant for the user: `message` is the one-line summary (what, where,
 * what to do); `details` are printed after it; `cause` (the driver's or the system's
 * error it stands for) is shown with --verbose. Only the CLI entry turns it into an
 * exit code.
 */
export class BoosterzError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    readonly details: string[] = [],
    readonly data: Record<string, unknown> = {},
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'BoosterzError';
  }
}

export const usageError = (message: string, details: string[] = [], cause?: unknown) =>
  new BoosterzError(message, ExitCode.usage, details, {}, { cause });

/** Exit 7: the next statement does not fit in what is left of the maintenance window (--window / --until). */
export const windowEndedError = (left: number, details: string[] = [], data: Record<string, unknown> = {}) =>
  new BoosterzError(
    `stopped at the end of the maintenance window: ${left} statement${left === 1 ? '' : 's'} left; rerun in the next window resumes`,
    ExitCode.windowEnded,
    details,
    { ...data, left },
  );

export const refusedError = (message: string, details: string[] = [], data: Record<string, unknown> = {}) =>
  new BoosterzError(message, ExitCode.refused, details, data);

/** A run stopped at a safe point (a signal, a closed pipe): exit 130. */
export class InterruptedError extends BoosterzError {
  constructor(message: string) {
    super(message, ExitCode.interrupted);
    this.name = 'InterruptedError';
  }
}

/** `interrupted <where>: <outcome>`, e.g. `interrupted while refreshing v: it keeps its previous contents`. */
export const interruptedError = (where: string, outcome?: string) =>
  new InterruptedError(`interrupted ${where}${outcome ? `: ${outcome}` : ''}`);

/** Fields postgres.js puts on a server error. */
export interface PgErrorLike {
  code?: string;
  message: string;
  detail?: string;
  hint?: string;
  position?: string;
}

export function isPgError(err: unknown): err is PgErrorLike & Error {
  return err instanceof Error && typeof (err as PgErrorLike).code === 'string' && (err as { name?: string }).name === 'PostgresError';
}

/** The SQLSTATE of a server error, or undefined. */
export function sqlState(err: unknown): string | undefined {
  return isPgError(err) ? err.code : undefined;
}

const LOST = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  '57P01',
  '57P02',
  '57P03',
]);

/** The server or the network went away (terminated backend, restart, failover, cut connection). */
export function isConnectionLoss(err: unknown): boolean {
  if (err instanceof BoosterzError) return err.data.lostConnection === true;
  const code = (err as { code?: string } | undefined)?.code;
  return !!code && LOST.has(code);
}

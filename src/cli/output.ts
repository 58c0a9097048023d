import chalk from 'chalk';
import { maskUrl } from '../db/mask.js';

/** Global flags every command shares. */
export interface GlobalFlags {
  databaseUrl?: string;
  embedded?: string | boolean;
  json?: boolean;
  color?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  migrationsDir?: string;
  rollbackDir?: string;
}

const secrets = new Set<string>();

/** Registers a password so no output line ever shows it. */
export function addSecret(s: string | undefined): void {
  if (s && s.length >= 3) secrets.add(s);
}

/** Masks URL passwords and every registered secret. */
export function scrubText(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('****').split(encodeURIComponent(s)).join('****');
  return maskUrl(out);
}

export type StdStream = 'stdout' | 'stderr';
type Writable = Pick<NodeJS.WriteStream, 'write' | 'on'>;

let std: Record<StdStream, Writable> = { stdout: process.stdout, stderr: process.stderr };
const closed = new Set<StdStream>();
const stdioErrors = new WeakSet<object>();
let guarded = false;
let onStdClosed: (name: StdStream, err: unknown) => void = () => undefined;

function markClosed(name: StdStream, err: unknown): void {
  if (err && typeof err === 'object') stdioErrors.add(err);
  if (closed.has(name)) return;
  closed.add(name);
  onStdClosed(name, err);
}

/**
 * Watches stdout and stderr. The first error on one (EPIPE: the reader went away, e.g. `| head -1`;
 * ENOSPC: `2>/dev/full`; EIO: a hung-up terminal) closes it for this process: later writes are dropped.
 * Without this, Node raises each failed write as an uncaught exception, and reporting that error
 * writes again: a loop that never yields to the event loop (100% CPU, growing memory, signals unseen).
 */
export function guardStdio(onClosed: (name: StdStream, err: unknown) => void, streams?: Record<StdStream, Writable>): void {
  onStdClosed = onClosed;
  if (streams) {
    std = streams;
    closed.clear();
  } else if (guarded) return;
  guarded = true;
  for (const name of ['stdout', 'stderr'] as const) std[name].on('error', (err: Error) => markClosed(name, err));
}

/** An error raised by writing to stdout or stderr (never a database socket's). */
export function isStdioError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && stdioErrors.has(err);
}

export function isStdClosed(name: StdStream): boolean {
  return closed.has(name);
}

/** Writes to stdout / stderr unless the reader has gone. */
export function writeStd(name: StdStream, text: string): void {
  if (closed.has(name)) return;
  try {
    std[name].write(text);
  } catch (err) {
    markClosed(name, err); // a stream that throws instead of emitting 'error' is closed too
  }
}

/** The only place that writes: results to stdout, progress and logs to stderr. */
export class Output {
  readonly isTTY: boolean;
  constructor(readonly flags: GlobalFlags) {
    this.isTTY = !!process.stderr.isTTY && !flags.json;
    if (flags.color === false || process.env.NO_COLOR || !process.stdout.isTTY) chalk.level = 0;
  }
  get json(): boolean {
    return !!this.flags.json;
  }
  /** A result line on stdout (text mode). */
  result(text: string): void {
    writeStd('stdout', `${scrubText(text)}\n`);
  }
  /** The JSON document (or one NDJSON event) on stdout. */
  jsonLine(value: unknown): void {
    writeStd('stdout', `${scrubText(JSON.stringify(value))}\n`);
  }
  /** Progress / information on stderr, unless --quiet. Timestamped off a TTY. */
  info(text: string): void {
    if (this.flags.quiet) return;
    writeStd('stderr', `${this.stamp()}${scrubText(text)}\n`);
  }
  verbose(text: string): void {
    if (this.flags.verbose) this.info(chalk.dim(text));
  }
  warn(text: string): void {
    writeStd('stderr', `${this.stamp()}${chalk.yellow('warning:')} ${scrubText(text)}\n`);
  }
  error(text: string, details: string[] = []): void {
    writeStd('stderr', `${chalk.red('error:')} ${scrubText(text)}\n`);
    for (const d of details) writeStd('stderr', `  ${scrubText(d)}\n`);
  }
  stamp(): string {
    return this.isTTY || this.json ? '' : `${new Date().toISOString()} `;
  }
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

import chalk from 'chalk';
import { maskUrl } from '../db/connection.js';

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
    process.stdout.write(`${scrubText(text)}\n`);
  }
  /** The JSON document (or one NDJSON event) on stdout. */
  jsonLine(value: unknown): void {
    process.stdout.write(`${scrubText(JSON.stringify(value))}\n`);
  }
  /** Progress / information on stderr, unless --quiet. Timestamped off a TTY. */
  info(text: string): void {
    if (this.flags.quiet) return;
    process.stderr.write(`${this.stamp()}${scrubText(text)}\n`);
  }
  verbose(text: string): void {
    if (this.flags.verbose) this.info(chalk.dim(text));
  }
  warn(text: string): void {
    process.stderr.write(`${this.stamp()}${chalk.yellow('warning:')} ${scrubText(text)}\n`);
  }
  error(text: string, details: string[] = []): void {
    process.stderr.write(`${chalk.red('error:')} ${scrubText(text)}\n`);
    for (const d of details) process.stderr.write(`  ${scrubText(d)}\n`);
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

import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export const ROOT = resolve(process.cwd());
export const BIN = resolve(ROOT, 'bin/boosterz-db.js');

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Another entry file (e.g. an installed package's bin), and the folder it runs in. */
  bin?: string;
  cwd?: string;
  onSpawn?: (pid: number) => void;
  /** Called with stdout + stderr so far, as output arrives. */
  onStderr?: (soFar: string) => void;
}

/** Runs the built CLI as a user would (no TTY), returning exit code and output. */
export function runCli(args: string[], o: RunOptions = {}): Promise<CliResult> {
  const t0 = Date.now();
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [o.bin ?? BIN, ...args], {
      cwd: o.cwd ?? ROOT,
      env: { ...process.env, NODE_OPTIONS: '', DATABASE_URL: '', NO_COLOR: '1', ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      o.onStderr?.(stdout + stderr);
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      o.onStderr?.(stdout + stderr);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', rej);
    if (child.pid) o.onSpawn?.(child.pid);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/**
 * `runCli` on one database: `-d URL` comes first. The URL is read at each call (tests give
 * each test a fresh database); `url` in a call's options points that call elsewhere.
 */
export function cliOn(url: () => string, defaults: Omit<RunOptions, 'onSpawn' | 'onStderr'> = {}) {
  return (args: string[], o: Omit<RunOptions, 'onSpawn' | 'onStderr'> & { url?: string } = {}) => {
    const { url: other, ...rest } = o;
    return runCli(['-d', other ?? url(), ...args], { ...defaults, ...rest });
  };
}

/** The NDJSON lines of a `--json` run (stdout, or a result), parsed; blank lines skipped. */
export function ndjson(out: string | CliResult): any[] {
  const text = typeof out === 'string' ? out : out.stdout;
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as unknown);
}

export const fixture = (name: string) => ({
  migrations: resolve(ROOT, 'test/fixtures', name, 'migrations'),
  rollback: resolve(ROOT, 'test/fixtures', name, 'rollback'),
});

export const dirArgs = (f: { migrations: string; rollback: string }) => ['--migrations-dir', f.migrations, '--rollback-dir', f.rollback];

/** Starts the CLI and resolves once its output (stdout or stderr) matches `re` (to act at a known point), with the pid and the final result. */
export async function runCliUntil(
  args: string[],
  re: RegExp,
  o: Omit<RunOptions, 'onSpawn' | 'onStderr'> = {},
): Promise<{ pid: number; result: Promise<CliResult> }> {
  let pid = 0;
  let seen!: () => void;
  const reached = new Promise<void>((r) => (seen = r));
  const result = runCli(args, { ...o, onSpawn: (p) => (pid = p), onStderr: (s) => re.test(s) && seen() });
  await Promise.race([
    reached,
    result.then((r) => {
      throw new Error(`the CLI ended (exit ${r.code}) before printing ${re}: ${r.stderr}`);
    }),
  ]);
  return { pid, result };
}

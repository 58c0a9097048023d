import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, dirArgs, fixture } from '../helpers/cli.js';
import { tempFixture } from '../helpers/fixtures.js';

interface Closed {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  ms: number;
  sigterm: boolean;
}

/**
 * Runs the CLI with its stdout (and with `both`, its stderr) read end closed at once, as `| head -1`
 * does once it has its line. A run still alive after `termAfterMs` gets SIGTERM, after 30 s SIGKILL.
 */
function runClosed(args: string[], o: { both?: boolean; termAfterMs?: number } = {}): Promise<Closed> {
  const t0 = Date.now();
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', DATABASE_URL: '', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    if (o.both) child.stderr.destroy();
    let stderr = '';
    if (!o.both) child.stderr.on('data', (d) => (stderr += d));
    let sigterm = false;
    const term = setTimeout(() => {
      sigterm = true;
      child.kill('SIGTERM');
    }, o.termAfterMs ?? 15_000);
    const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', rej);
    child.on('exit', (code, signal) => {
      clearTimeout(term);
      clearTimeout(kill);
      res({ code, signal, stderr, ms: Date.now() - t0, sigterm });
    });
  });
}

const basic = dirArgs(fixture('basic'));
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bz-pipes-'));
});
afterEach(async () => {
  const f = join(dir, 'pg', 'cluster', 'postmaster.pid');
  const pid = existsSync(f) ? Number((await readFile(f, 'utf8')).split('\n')[0]) : 0;
  if (pid) process.kill(pid, 'SIGQUIT');
  await rm(dir, { recursive: true, force: true });
});
const serverLeft = () => existsSync(join(dir, 'pg', 'cluster', 'postmaster.pid'));

describe('a closed stdout or stderr', () => {
  it('status --json | head: exit 0 quietly, the embedded server stopped', async () => {
    const r = await runClosed(['status', '--json', '--embedded', join(dir, 'pg'), ...basic]);
    expect(r).toMatchObject({ code: 0, signal: null, sigterm: false });
    expect(r.stderr).not.toMatch(/error|EPIPE|lost the connection/);
    expect(serverLeft()).toBe(false);
  });

  it('status 2>&1 | head: ends by itself at once (no spinning on the dead pipe), SIGTERM never needed', async () => {
    const r = await runClosed(['status', '--embedded', join(dir, 'pg'), ...basic], { both: true, termAfterMs: 10_000 });
    expect(r).toMatchObject({ code: 0, signal: null, sigterm: false });
    expect(serverLeft()).toBe(false);
  });

  it('a long migrate --json stops at a safe point (exit 130, rerun resumes), not as a database error', async () => {
    const f = await tempFixture(undefined, {
      'migrations/0001_slow.sql': 'CREATE TABLE slow (id int);\nSELECT pg_sleep(30);\n',
      'rollback/0001_slow.sql': 'DROP TABLE IF EXISTS slow;\n',
    });
    const r = await runClosed(['migrate', '--json', '--embedded', join(dir, 'pg'), ...dirArgs(f)]);
    expect(r).toMatchObject({ code: 130, signal: null, sigterm: false });
    expect(r.ms).toBeLessThan(20_000);
    expect(r.stderr).toMatch(/rerun to resume/);
    expect(r.stderr).not.toMatch(/EPIPE|lost the connection|unexpected/);
    expect(serverLeft()).toBe(false);
  });

  it('a run whose stdout and stderr are both gone ends (by itself or on SIGTERM), never wedged', async () => {
    const f = await tempFixture(undefined, {
      'migrations/0001_slow.sql': 'CREATE TABLE slow (id int);\nSELECT pg_sleep(30);\n',
      'rollback/0001_slow.sql': 'DROP TABLE IF EXISTS slow;\n',
    });
    const r = await runClosed(['migrate', '--embedded', join(dir, 'pg'), ...dirArgs(f)], { both: true, termAfterMs: 3000 });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(130);
    expect(r.ms).toBeLessThan(20_000);
    expect(serverLeft()).toBe(false);
  });
});

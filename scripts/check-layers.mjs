#!/usr/bin/env node
// The dependency check (`npm run depcheck`): no import cycle in src/, and no import against the
// direction of travel cli/ → core/ → db/, with errors.ts a leaf every layer may import.
// Type-only and lazy `import()` edges count like any other: a cycle of types is still a cycle.
import madge from 'madge';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../src/', import.meta.url));

/** Each rule forbids the imports whose importer matches `from` and whose target matches `to` (paths relative to src/). */
const RULES = [
  {
    name: 'db-imports-only-db',
    from: /^db\//,
    to: /^(core|cli)\//,
    why: 'db/ (connections, sessions, locks, quoting) imports only db/ and errors.ts',
  },
  { name: 'core-never-imports-cli', from: /^core\//, to: /^cli\//, why: 'core/ returns values and emits events; only cli/ prints' },
  {
    name: 'only-bin-imports-main',
    from: /./,
    to: /^cli\/main\.ts$/,
    why: 'only bin/ imports the entry point; argument parsers live in cli/args.ts, RunCommand in cli/context.ts',
  },
  {
    name: 'commands-do-not-import-commands',
    from: /^cli\/commands\//,
    to: /^cli\/commands\//,
    why: 'what two commands share goes in a cli/ helper or in core/',
  },
  { name: 'errors-is-a-leaf', from: /^errors\.ts$/, to: /./, why: 'errors.ts is imported by every layer and imports nothing' },
  { name: 'engine-types-are-a-leaf', from: /^core\/engine\/types\.ts$/, to: /./, why: 'event and result types depend on nothing' },
  {
    name: 'engine-imports-only-db',
    from: /^core\/engine\//,
    to: /^(cli|core)\/(?!engine\/)/,
    why: 'the migration engine imports only core/engine/, db/ and errors.ts',
  },
  {
    name: 'nothing-imports-bench',
    from: /^(?!cli\/|core\/bench\/)/,
    to: /^core\/bench\//,
    why: 'bench/ (data generation, workloads, benchmarks) is a leaf only cli/ uses',
  },
  { name: 'nothing-imports-daemon', from: /^(?!cli\/|core\/daemon\/)/, to: /^core\/daemon\//, why: 'the daemon is a leaf only cli/ uses' },
];

const res = await madge(src, {
  fileExtensions: ['ts'],
  detectiveOptions: { ts: { skipTypeImports: false, skipAsyncImports: false } },
});
const graph = res.obj();
const problems = [];

const files = Object.keys(graph);
if (files.length === 0) problems.push('madge found no TypeScript file under src/');
for (const skipped of res.warnings().skipped) problems.push(`unresolved import (the check cannot see past it): ${skipped}`);

for (const cycle of res.circular()) problems.push(`cycle: ${[...cycle, cycle[0]].join(' → ')}`);

for (const [from, deps] of Object.entries(graph)) {
  for (const to of deps) {
    for (const r of RULES) {
      if (r.from.test(from) && r.to.test(to) && from !== to) problems.push(`${r.name}: ${from} imports ${to} (${r.why})`);
    }
  }
}

if (problems.length) {
  console.error(`depcheck: ${problems.length} problem(s) in src/\n${problems.map((p) => `  ✗ ${p}`).join('\n')}`);
  process.exit(1);
}
const edges = Object.values(graph).reduce((n, d) => n + d.length, 0);
console.log(`depcheck: ${files.length} files, ${edges} imports, no cycle, no import against the layer rules`);

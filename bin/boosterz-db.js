#!/usr/bin/env node
// Entry point: resolves the package folder (for the shipped migrations and the
// embedded PostgreSQL binaries) and hands over to the CLI, which owns exit codes.
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { main } = await import('../dist/cli/main.js');
await main(process.argv, { packageRoot: root });

#!/usr/bin/env node
// Entry point of the `sieve` command: runs the compiled CLI (built by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(compiled)) {
  process.stderr.write('sieve: the compiled CLI is missing (dist/). Run `npm run build` in the Sieve checkout.\n');
  process.exit(1);
}
const { main } = await import(compiled.href);
process.exitCode = await main(process.argv);

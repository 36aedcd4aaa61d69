#!/usr/bin/env node
// Entry point of the `sieve` command: runs the bundled CLI (built by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';
import module from 'node:module';

// Node >= 22.1 keeps compiled code between runs (as tsc does); older versions have no such cache.
module.enableCompileCache?.();

// `sieve show x | head`: a reader that stops early is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const bundle = new URL('../dist/sieve.mjs', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write('sieve: the built CLI is missing (dist/). Run `npm run build` in the Sieve checkout.\n');
  process.exit(1);
}
const { main } = await import(bundle.href);
process.exitCode = await main(process.argv);

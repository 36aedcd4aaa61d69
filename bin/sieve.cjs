#!/usr/bin/env node
'use strict';
// Entry point of the `sieve` command: runs the bundled CLI (built by `npm install` / `npm run build`).
// CommonJS, and the bundle is loaded with require() where Node can require an ES module (20.19+,
// 22.12+): a command that needs nothing else from the ES module loader never starts it (about 8 ms
// of a no-op `sieve run`, most of which is start-up).
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const nodeModule = require('node:module');

// Node >= 22.1 keeps compiled code between runs (as tsc does); older versions have no such cache.
nodeModule.enableCompileCache?.();

// `sieve show x | head`: a reader that stops early is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const bundle = join(__dirname, '../dist/sieve.mjs');
if (!existsSync(bundle)) {
  process.stderr.write('sieve: the built CLI is missing (dist/). Run `npm run build` in the Sieve checkout.\n');
  process.exit(1);
}
const loaded = process.features.require_module ? Promise.resolve(require(bundle)) : import(pathToFileURL(bundle).href);
loaded.then(async ({ main }) => {
  process.exitCode = await main(process.argv);
});

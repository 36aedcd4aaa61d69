// Bundles the CLI into dist/sieve.mjs (run by `npm run build`, after tsc). Loading one file instead of
// a few hundred modules is most of a no-op `sieve run`'s start-up. Code that only some commands need
// is imported dynamically in the sources and lands in chunks (dist/chunk-*.mjs) loaded on demand.
// Worker threads still load the per-module build in dist/ (they start once per run, not per command).
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));

for (const f of await readdir(dist)) if (/^(sieve|chunk-.*)\.mjs(\.map)?$/.test(f)) await rm(`${dist}${f}`);

// Identifies this build (see src/runtime/plan-cache.ts): a hash of every compiled module.
const buildId = createHash('sha256');
for (const f of (await readdir(dist, { recursive: true })).filter((f) => f.endsWith('.js')).sort()) {
  buildId.update(f).update(await readFile(`${dist}${f}`));
}

await build({
  entryPoints: { sieve: `${dist}cli/main.js` },
  outdir: dist,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  // Chunks sit next to the entry: module-paths.ts resolves Sieve's own modules relative to the file
  // it ends up in, which must be at the root of dist/ (see src/module-paths.ts).
  chunkNames: 'chunk-[hash]',
  // Native or large packages that only some nodes load, inside `run`: resolved from node_modules.
  external: ['onnxruntime-node', 'sharp', '@tensorflow/*', '@aws-sdk/*'],
  // Bundled CommonJS packages (ajv, yaml, ...) call require() for Node's built-in modules.
  banner: { js: "import { createRequire as __sieveCreateRequire } from 'node:module'; const require = __sieveCreateRequire(import.meta.url);" },
  define: { __SIEVE_BUILD__: JSON.stringify(buildId.digest('hex').slice(0, 16)) },
  sourcemap: 'linked',
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});

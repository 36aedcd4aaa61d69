// Bundles the CLI into dist/sieve.mjs (run by `npm run build`, after tsc). Loading a few files
// instead of a few hundred modules is most of a no-op `sieve run`'s start-up. Code that only some
// commands need is imported dynamically in the sources and lands in chunks (dist/chunk-*.mjs)
// loaded on demand. Worker threads still load the per-module build in dist/ (they start once per
// run, not per command).
//
// Three passes. esbuild's code splitting (1) also gives every module shared between the entry and a
// lazy chunk a chunk of its own, so what every command loads would come in a dozen files, and each
// file the ESM loader fetches costs start-up time. So the entry's static imports are merged into
// the entry (2), and the lazy chunks are pointed at it (3), which keeps one instance of each module.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const stage = `${dist}.bundle/`;

for (const f of await readdir(dist)) if (/^(sieve|chunk-.*)\.mjs(\.map)?$/.test(f)) await rm(`${dist}${f}`);
await rm(stage, { recursive: true, force: true });
await mkdir(stage);

// Identifies this build (see src/runtime/plan-cache.ts): a hash of every compiled module.
const buildId = createHash('sha256');
for (const f of (await readdir(dist, { recursive: true })).filter((f) => f.endsWith('.js')).sort()) {
  buildId.update(f).update(await readFile(`${dist}${f}`));
}

const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  // Native or large packages that only some nodes (or `report`) load: resolved from node_modules.
  external: ['onnxruntime-node', 'sharp', '@tensorflow/*', '@aws-sdk/*', 'vega', 'vega-lite'],
  // Passes 2 and 3 read the maps of pass 1 (esbuild follows sourceMappingURL comments).
  sourcemap: 'linked',
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
};

// 1. Split at the dynamic imports.
const split = await build({
  ...common,
  entryPoints: { sieve: `${dist}cli/main.js` },
  outdir: stage,
  splitting: true,
  chunkNames: 'chunk-[hash]',
  // Bundled CommonJS packages (ajv, yaml, ...) call require() for Node's built-in modules. Created
  // on first use: createRequire costs about a millisecond, and most chunks never call it.
  banner: {
    js: "import { createRequire as __sieveCreateRequire } from 'node:module'; let __sieveRequire; function require(id) { return (__sieveRequire ??= __sieveCreateRequire(import.meta.url))(id); }",
  },
  define: { __SIEVE_BUILD__: JSON.stringify(buildId.digest('hex').slice(0, 16)) },
  metafile: true,
});

// The entry and the chunks it imports statically, directly or not.
const outputs = new Map(Object.entries(split.metafile.outputs).map(([path, meta]) => [basename(path), meta]));
const eager = new Set();
const visit = (name) => {
  if (eager.has(name)) return;
  eager.add(name);
  for (const i of outputs.get(name).imports) if (i.kind === 'import-statement' && !i.external) visit(basename(i.path));
};
visit('sieve.mjs');
const lazy = [...outputs.keys()].filter((name) => name.endsWith('.mjs') && !eager.has(name));

// The merged entry re-exports every eager chunk's exports, which lazy chunks then import from it:
// esbuild names symbols uniquely across chunks, and this checks it.
const exporter = new Map();
for (const name of eager) {
  for (const symbol of outputs.get(name).exports) {
    if (exporter.has(symbol)) throw new Error(`bundle: ${symbol} is exported by both ${exporter.get(symbol)} and ${name}`);
    exporter.set(symbol, name);
  }
}

/** Resolves imports of pass-1 chunks: eager ones are bundled (`merge`) or taken from the merged entry. */
const chunkImports = (merge) => ({
  name: 'sieve-chunks',
  setup(b) {
    b.onResolve({ filter: /^\.\/(sieve|chunk-[^/]*)\.mjs$/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const name = args.path.slice(2);
      if (!eager.has(name)) return { path: args.path, external: true };
      return merge ? { path: `${stage}${name}` } : { path: './sieve.mjs', external: true };
    });
  },
});

// 2. The entry with its static imports, in one file.
await build({
  ...common,
  stdin: {
    contents: [...eager].map((name) => `export * from './${name}';`).join('\n'),
    resolveDir: stage,
    sourcefile: 'sieve-entry.mjs',
  },
  outfile: `${dist}sieve.mjs`,
  plugins: [chunkImports(true)],
});

// 3. The lazy chunks, importing what they share with the entry from it.
if (lazy.length > 0) {
  await build({
    ...common,
    entryPoints: lazy.map((name) => `${stage}${name}`),
    outdir: dist,
    entryNames: '[name]',
    plugins: [chunkImports(false)],
  });
}

await rm(stage, { recursive: true });

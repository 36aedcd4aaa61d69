// Bundles: export on one cache, import into an empty one, run with zero executions; and every kind
// of bad bundle refused with nothing kept.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { readFile, readdir, truncate, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockfilePath } from '../../src/runtime/results/lockfile.js';
import { BundleError, exportBundle, importBundle, type BundleManifest } from '../../src/runtime/sharing/bundle.js';
import { Store } from '../../src/runtime/store/store.js';
import { assertCliBuilt, executions, makeTempDir, objectFiles, removeTempDirs, runCli, runInProcess, statusesFromJson } from '../helpers/runtime.js';
import { expectAllCached, producePipeline } from './helpers.js';

afterAll(removeTempDirs);

interface TarEntry {
  name: string;
  content?: Buffer;
  type?: 'file' | 'symlink' | 'directory' | 'link';
  linkname?: string;
}

async function writeTar(file: string, entries: TarEntry[]): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, createWriteStream(file));
  for (const e of entries) {
    const header = { name: e.name, type: e.type ?? 'file', linkname: e.linkname };
    const isFile = header.type === 'file';
    await new Promise<void>((res, rej) => {
      const cb = (err?: Error | null): void => (err ? rej(err) : res());
      if (isFile) pack.entry(header, e.content ?? Buffer.alloc(0), cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A well-formed bundle built by hand, so each test can spoil exactly one thing. */
function handBundle(
  opts: { objectBytes?: Buffer; recordedSize?: number; name?: (hash: string) => string; extra?: TarEntry[]; format?: string; files?: [string, string] } = {},
): TarEntry[] {
  const [pipelineName, lockName] = opts.files ?? ['hand.yaml', 'hand.lock'];
  const obj = Buffer.from('the content of one object');
  const hash = sha(obj);
  const pipelineText = Buffer.from('name: hand\nnodes:\n  a: { type: test-source }\n');
  const lockText = Buffer.from(`version: 1\npipeline: hand\nsieve: test\npoints:\n  default:\n    assignments: {}\n    nodes: {}\n`);
  const manifest: BundleManifest = {
    format: (opts.format ?? 'sieve-bundle') as 'sieve-bundle', version: 1, sieve: 'test', created: new Date().toISOString(),
    pipeline: { name: pipelineName, sha256: sha(pipelineText), size: pipelineText.byteLength },
    lockfile: { name: lockName, sha256: sha(lockText), size: lockText.byteLength },
    objects: [{ hash, size: opts.recordedSize ?? obj.byteLength }],
  };
  return [
    { name: 'sieve-bundle.json', content: Buffer.from(JSON.stringify(manifest)) },
    { name: `pipeline/${pipelineName}`, content: pipelineText },
    { name: `pipeline/${lockName}`, content: lockText },
    ...(opts.extra ?? []),
    { name: opts.name ? opts.name(hash) : `objects/${hash.slice(0, 2)}/${hash.slice(2)}`, content: opts.objectBytes ?? obj },
  ];
}

async function expectRefused(entries: TarEntry[] | ((file: string) => Promise<void>), pattern: RegExp): Promise<void> {
  const dir = await makeTempDir('sieve-bundle-bad-');
  const file = join(dir, 'bad.tar');
  if (typeof entries === 'function') await entries(file);
  else await writeTar(file, entries);
  const cache = join(dir, 'cache');
  const to = join(dir, 'to');
  const err = await importBundle({ store: new Store(cache), file, toDir: to }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(BundleError);
  expect((err as Error).message).toMatch(pattern);
  // Nothing from the bundle is kept: no object, no pipeline, no lockfile, no staging left over.
  expect(await objectFiles(cache)).toEqual([]);
  expect(['hand.yaml', 'share.yaml', 'conftest.py', 'Makefile', 'hand.lock'].filter((f) => existsSync(join(to, f)))).toEqual([]);
  expect(await readdir(join(cache, 'tmp')).catch(() => [])).toEqual([]);
}

describe('export / import round trip', () => {
  let producerDir: string;
  let bundle: string;
  let pipelinePath: string;

  beforeAll(async () => {
    producerDir = await makeTempDir('sieve-bundle-src-');
    const made = await producePipeline(producerDir, join(producerDir, 'cache'));
    pipelinePath = made.path;
    bundle = join(producerDir, 'share.sieve.tar');
    await exportBundle({
      store: new Store(join(producerDir, 'cache')), pipelinePath, lockPath: lockfilePath(pipelinePath), outFile: bundle, sieveVersion: 'test',
    });
  });

  it('imports into an empty cache and the pipeline reruns with zero executions', async () => {
    const dir = await makeTempDir('sieve-bundle-dst-');
    const cache = join(dir, 'cache');
    const r = await importBundle({ store: new Store(cache), file: bundle, toDir: dir });
    expect(r.objects).toBe(5);
    expect(r.added).toBe(5);
    expect(r.actionsRestored).toBe(5);
    expect(await readFile(r.lockPath, 'utf8')).toBe(await readFile(lockfilePath(pipelinePath), 'utf8'));
    const { stale, executed } = await expectAllCached(r.pipelinePath, cache, join(dir, 'run.log'));
    expect(stale).toEqual([]);
    expect(executed).toEqual([]);
    // Changing one param recomputes only what depends on it, with the same hashes a rerun gives.
    const changed = await runInProcess(r.pipelinePath, { cache, log: join(dir, 'run.log'), overrides: ['scaled.factor=5'] });
    expect(changed.result.summary.ok).toBe(true);
    expect((await executions(join(dir, 'run.log'))).sort()).toEqual(['m', 'scaled']);
  });

  it('importing twice is a no-op, and a different existing pipeline is not overwritten without --force', async () => {
    const dir = await makeTempDir('sieve-bundle-dst-');
    const cache = join(dir, 'cache');
    await importBundle({ store: new Store(cache), file: bundle, toDir: dir });
    const again = await importBundle({ store: new Store(cache), file: bundle, toDir: dir });
    expect(again.added).toBe(0);
    await writeFile(join(dir, 'pipeline.yaml'), 'name: mine\n');
    const err = await importBundle({ store: new Store(cache), file: bundle, toDir: dir }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/exists with different content.*--force/);
    expect(await readFile(join(dir, 'pipeline.yaml'), 'utf8')).toBe('name: mine\n');
    await importBundle({ store: new Store(cache), file: bundle, toDir: dir, force: true });
    expect(await readFile(join(dir, 'pipeline.yaml'), 'utf8')).toBe(await readFile(pipelinePath, 'utf8'));
  });

  it('CLI: export -o, import --to, then `run` executes nothing', async () => {
    assertCliBuilt();
    const out = join(producerDir, 'cli.sieve.tar');
    const exported = await runCli(['export', pipelinePath, '-o', out, '--cache', join(producerDir, 'cache')], { cwd: producerDir });
    expect(exported.exitCode, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/exported 5 object\(s\)/);
    const dir = await makeTempDir('sieve-bundle-cli-');
    const imported = await runCli(['import', out, '--to', 'team', '--cache', 'cache'], { cwd: dir });
    expect(imported.exitCode, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/imported 5 object\(s\).*5 node\(s\) restored as cache hits/);
    const run = await runCli(['run', 'team/pipeline.yaml', '--cache', 'cache', '--json'], { cwd: dir, log: join(dir, 'run.log') });
    expect(run.exitCode).toBe(0);
    expect(Object.values(statusesFromJson(run.stdout))).toEqual(['cached', 'cached', 'cached', 'cached', 'cached']);
    expect(await executions(join(dir, 'run.log'))).toEqual([]);
    const refused = await runCli(['import', out, '--to', producerDir, '--cache', 'cache'], { cwd: dir });
    expect(refused.exitCode).toBe(0); // identical files are not a conflict
  });

  it('refuses a bundle truncated in the middle', async () => {
    await expectRefused(async (file) => {
      await writeFile(file, await readFile(bundle));
      await truncate(file, Math.floor((await stat(file)).size / 2));
    }, /not a readable Sieve bundle|missing/);
  });
});

describe('refused bundles keep nothing', () => {
  it('accepts the hand-made bundle the refusals below spoil', async () => {
    const dir = await makeTempDir('sieve-bundle-ok-');
    const file = join(dir, 'ok.tar');
    await writeTar(file, handBundle());
    const r = await importBundle({ store: new Store(join(dir, 'cache')), file, toDir: join(dir, 'to') });
    expect(r.added).toBe(1);
  });

  it('an object whose content does not match its hash', async () => {
    const wrong = Buffer.from('the content of one objecT');
    await expectRefused(handBundle({ objectBytes: wrong, recordedSize: wrong.byteLength }), /content hashes to [0-9a-f]{64}, not to its name/);
  });

  it('a truncated object', async () => {
    await expectRefused(handBundle({ objectBytes: Buffer.from('the content of') }), /14 bytes, the manifest records 25 \(truncated\?\)/);
  });

  it('a ../ path', async () => {
    await expectRefused(handBundle({ name: (h) => `objects/../../${h}` }), /path escapes the bundle/);
  });

  it('an absolute path', async () => {
    await expectRefused(handBundle({ name: (h) => `/tmp/objects/${h.slice(0, 2)}/${h.slice(2)}` }), /absolute path/);
  });

  it('a symlink', async () => {
    await expectRefused(handBundle({ extra: [{ name: 'objects/ab/link', type: 'symlink', linkname: '/etc/passwd' }] }), /symbolic link \(to \/etc\/passwd\)/);
  });

  it('a hard link', async () => {
    await expectRefused(handBundle({ extra: [{ name: 'objects/ab/hard', type: 'link', linkname: 'pipeline/hand.yaml' }] }), /hard link/);
  });

  it('a pipeline or lockfile not named <name>.yaml / <name>.lock (conftest.py, Makefile, a dot file)', async () => {
    await expectRefused(handBundle({ files: ['conftest.py', 'hand.lock'] }), /the pipeline must be named <name>\.yaml with a plain name .*"conftest\.py"/);
    await expectRefused(handBundle({ files: ['hand.yaml', 'Makefile'] }), /the lockfile of hand\.yaml must be named hand\.lock, not "Makefile"/);
    await expectRefused(handBundle({ files: ['.bashrc.yaml', '.bashrc.lock'] }), /the pipeline must be named <name>\.yaml/);
    await expectRefused(handBundle({ files: ['hand.yaml', 'other.lock'] }), /must be named hand\.lock/);
  });

  it('an unknown format, an unknown entry, and a file that is not a tar', async () => {
    await expectRefused(handBundle({ format: 'zip-of-things' }), /unknown format "zip-of-things"/);
    await expectRefused(handBundle({ extra: [{ name: 'README.txt', content: Buffer.from('hi') }] }), /unknown entry/);
    await expectRefused([{ name: 'hand.yaml', content: Buffer.from('x') }], /not a Sieve bundle: the first entry must be sieve-bundle.json/);
    await expectRefused(async (f) => writeFile(f, Buffer.alloc(2048, 0x41)), /not a readable Sieve bundle/);
  });
});

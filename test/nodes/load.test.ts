import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/npy.js';
import load, { type LoadParams } from '../../src/nodes/load.js';
import { computeKey } from '../../src/runtime/keys/keys.js';
import { tensor, type Json, type Tensor } from '../../src/runtime/tensor.js';
import type { FingerprintContext, NodeContext, PortValue } from '../../src/runtime/types/node-type.js';
import { keyParams, portsFor, runsInWorker } from '../../src/runtime/types/node-type.js';
import { removeTemp, tempDir } from '../helpers/temp.js';

afterAll(removeTemp);

const MNIST_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data/mnist');

function ctxFor(params: Partial<LoadParams>, baseDir: string, seed = 1, progress: [number, number | undefined][] = []): NodeContext<LoadParams> {
  return {
    nodeId: 'data',
    params: { holdout: 0, ...params } as LoadParams,
    seed,
    inputs: {},
    baseDir,
    cacheDir: tempDir('sieve-cache-'),
    scratchDir: tempDir('sieve-scratch-'),
    signal: new AbortController().signal,
    progress: (done, total) => progress.push([done, total]),
    log: () => undefined,
    note: () => undefined,
  };
}

function fingerprintCtx(params: Partial<LoadParams>, baseDir: string): FingerprintContext<LoadParams> {
  return {
    nodeId: 'data',
    params: { holdout: 0, ...params } as LoadParams,
    baseDir,
    cacheDir: tmpdir(),
    async hashFile(path) {
      const bytes = readFileSync(path);
      return { sha256: createHash('sha256').update(bytes).digest('hex'), size: statSync(path).size };
    },
  };
}

const asTensor = (v: PortValue): Tensor => v as Tensor;
function classCounts(labels: PortValue, K: number): number[] {
  const c = new Array(K).fill(0);
  for (const l of asTensor(labels).data as Int32Array) c[l]++;
  return c;
}

/** CIFAR-10 batch bytes: `n` records, label i % 10, all pixels = label. */
function cifarBatch(n: number, offset = 0): Uint8Array {
  const out = new Uint8Array(n * 3073);
  for (let i = 0; i < n; i++) {
    const label = (i + offset) % 10;
    out[i * 3073] = label;
    out.fill(label, i * 3073 + 1, (i + 1) * 3073);
  }
  return out;
}

async function cifarTarGz(): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((res) => p.on('end', () => res()));
  for (let b = 1; b <= 5; b++) p.entry({ name: `cifar-10-batches-bin/data_batch_${b}.bin` }, Buffer.from(cifarBatch(20, b)));
  p.entry({ name: 'cifar-10-batches-bin/test_batch.bin' }, Buffer.from(cifarBatch(10)));
  p.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

describe('load: ports and params', () => {
  it('derives ports from the source', () => {
    const outs = (p: Partial<LoadParams>) => Object.keys(portsFor(load, { holdout: 0, ...p } as LoadParams, new Set()).outputs).sort();
    expect(outs({ source: 'cifar10', path: 'x' })).toEqual(['classes', 'test_images', 'test_labels', 'train_images', 'train_labels']);
    expect(outs({ source: 'features', train: 'x.npy' })).toEqual(['classes', 'test_features', 'test_labels', 'train_features', 'train_labels']);
    expect(outs({ source: 'synthetic' })).toContain('text_features');
    const synth = portsFor(load, { source: 'synthetic', holdout: 0 }, new Set()).outputs.text_features;
    expect(synth).toMatchObject({ kind: 'tensor', dtype: 'float32', rank: 3 });
    expect(runsInWorker(load)).toBe(true);
  });

  it('refuses params that do not fit the source', async () => {
    const base = tmpdir();
    await expect(load.run(ctxFor({ source: 'cifar10', path: 'x', label: 'coarse' }, base))).rejects.toThrow(/"label" does not apply to source "cifar10"/);
    await expect(load.run(ctxFor({ source: 'mnist' }, base))).rejects.toThrow(/needs "path"/);
    await expect(load.run(ctxFor({ source: 'synthetic', path: 'x' }, base))).rejects.toThrow(/reads no files/);
    await expect(load.run(ctxFor({ source: 'mnist', url: 'http://x/y' }, base))).rejects.toThrow(/"url" applies to single-archive sources/);
    await expect(load.run(ctxFor({ source: 'cifar10', url: 'http://x/y' }, base))).rejects.toThrow(/needs "sha256"/);
    await expect(load.run(ctxFor({ source: 'features' }, base))).rejects.toThrow(/needs "train"/);
  });
});

describe('load: synthetic', () => {
  it('outputs simulated features, labels, classes and text embeddings, seeded', async () => {
    const params = { source: 'synthetic' as const, train_per_class: 40, test_per_class: 10, num_classes: 5, dim: 16, max_train: 100 };
    const out = await load.run(ctxFor(params, tmpdir(), 3));
    expect(asTensor(out.train_features).shape).toEqual([100, 16]);
    expect(classCounts(out.train_labels, 5)).toEqual([20, 20, 20, 20, 20]);
    expect(asTensor(out.test_features).shape).toEqual([50, 16]);
    expect(asTensor(out.text_features).shape).toEqual([5, 1, 16]);
    expect(out.classes).toEqual(['class_0', 'class_1', 'class_2', 'class_3', 'class_4']);
    const again = await load.run(ctxFor(params, tmpdir(), 3));
    expect(asTensor(again.train_features).data).toEqual(asTensor(out.train_features).data);
    const other = await load.run(ctxFor(params, tmpdir(), 4));
    expect(asTensor(other.train_features).data).not.toEqual(asTensor(out.train_features).data);
    expect(await load.fingerprint!(fingerprintCtx(params, tmpdir()))).toEqual([]);
  });
});

describe('load: CIFAR-10', () => {
  const base = tempDir('sieve-load-cifar-');
  let server: ReturnType<typeof createServer>;
  let archive: Buffer;
  let url = '';
  const downloadDir = tempDir('sieve-downloads-');
  const savedEnv = process.env.SIEVE_DOWNLOAD_DIR;

  beforeAll(async () => {
    archive = await cifarTarGz();
    writeFileSync(join(base, 'cifar-10-binary.tar.gz'), archive);
    server = createServer((req, res) => {
      if (req.url === '/cifar-10-binary.tar.gz') res.writeHead(200, { 'content-length': archive.length }).end(archive);
      else res.writeHead(404).end();
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cifar-10-binary.tar.gz`;
    process.env.SIEVE_DOWNLOAD_DIR = downloadDir;
  });
  afterAll(() => {
    server.close();
    if (savedEnv === undefined) delete process.env.SIEVE_DOWNLOAD_DIR;
    else process.env.SIEVE_DOWNLOAD_DIR = savedEnv;
  });

  it('reads the archive, subsamples the test split stratified, and fingerprints the file', async () => {
    const params = { source: 'cifar10' as const, path: 'cifar-10-binary.tar.gz', max_test: 5 };
    const out = await load.run(ctxFor(params, base));
    expect(asTensor(out.train_images).shape).toEqual([100, 32, 32, 3]);
    expect(asTensor(out.test_images).shape).toEqual([5, 32, 32, 3]);
    const testLabels = asTensor(out.test_labels).data as Int32Array;
    expect(new Set(testLabels).size).toBe(5);
    // Pixels travel with their labels through the subsample.
    testLabels.forEach((l, i) => expect(asTensor(out.test_images).data[i * 3072 + 100]).toBe(l));
    expect((out.classes as string[])[9]).toBe('truck');
    const deps = await load.fingerprint!(fingerprintCtx(params, base));
    expect(deps).toEqual([
      { name: 'data:cifar-10-binary.tar.gz', path: join(base, 'cifar-10-binary.tar.gz'), sha256: createHash('sha256').update(archive).digest('hex'), size: archive.length },
    ]);
  });

  it('refuses holdout when a test split exists', async () => {
    await expect(load.run(ctxFor({ source: 'cifar10', path: 'cifar-10-binary.tar.gz', holdout: 0.1 }, base))).rejects.toThrow(
      /"holdout".*already has a test split of 10/,
    );
  });

  it('downloads from a url, verifying the sha256 and reporting progress', async () => {
    const progress: [number, number | undefined][] = [];
    const sha256 = createHash('sha256').update(archive).digest('hex');
    const out = await load.run(ctxFor({ source: 'cifar10', url, sha256 }, base, 1, progress));
    expect(asTensor(out.train_labels).shape).toEqual([100]);
    expect(progress.at(-1)).toEqual([archive.length, archive.length]);
    expect(existsSync(join(downloadDir, sha256, 'cifar-10-binary.tar.gz'))).toBe(true);
    expect(await load.fingerprint!(fingerprintCtx({ source: 'cifar10', url, sha256 }, base))).toEqual([]);
    await expect(load.run(ctxFor({ source: 'cifar10', url, sha256: '0'.repeat(64) }, base))).rejects.toThrow(/checksum mismatch/);
  });
});

/** A gzipped idx file: uint8 data of `shape` (idx3 images or idx1 labels). */
function idxGz(shape: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header.writeUInt32BE(0x0800 + shape.length, 0);
  shape.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return gzipSync(Buffer.concat([header, Buffer.from(data)]));
}

describe('load: MNIST files pinned by url and sha256', () => {
  const n = 20;
  const files: Record<string, Buffer> = {
    't10k-images-idx3-ubyte.gz': idxGz([n, 28, 28], Uint8Array.from({ length: n * 784 }, (_, i) => (i * 7) % 256)),
    't10k-labels-idx1-ubyte.gz': idxGz([n], Uint8Array.from({ length: n }, (_, i) => i % 10)),
  };
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  let base = '';
  let server: ReturnType<typeof createServer>;
  let pinned: Record<string, { url: string; sha256: string }> = {};
  const savedEnv = process.env.SIEVE_DOWNLOAD_DIR;

  beforeAll(async () => {
    base = tempDir('sieve-load-pinned-');
    mkdirSync(join(base, 'local'));
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(base, 'local', name), bytes);
    server = createServer((req, res) => {
      const body = files[(req.url ?? '').slice(1)];
      if (body) res.writeHead(200, { 'content-length': body.length }).end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    const port = (server.address() as AddressInfo).port;
    pinned = Object.fromEntries(Object.entries(files).map(([name, b]) => [name, { url: `http://127.0.0.1:${port}/${name}`, sha256: sha(b) }]));
    process.env.SIEVE_DOWNLOAD_DIR = join(base, 'downloads');
  });
  afterAll(async () => {
    server.close();
    if (savedEnv === undefined) delete process.env.SIEVE_DOWNLOAD_DIR;
    else process.env.SIEVE_DOWNLOAD_DIR = savedEnv;
    rmSync(base, { recursive: true, force: true });
  });

  it('downloads and verifies them; a local path override gives the same outputs under the same key', async () => {
    const ctx = ctxFor({ source: 'mnist', files: pinned, holdout: 0.5 }, base);
    const downloaded = await load.run(ctx);
    expect(asTensor(downloaded.train_images).shape).toEqual([10, 28, 28, 1]);
    for (const [name, f] of Object.entries(pinned)) expect(existsSync(join(base, 'downloads', f.sha256, name))).toBe(true);
    expect(await load.fingerprint!(fingerprintCtx({ source: 'mnist', files: pinned }, base))).toEqual([]);

    const local = await load.run(ctxFor({ source: 'mnist', files: pinned, path: 'local', holdout: 0.5 }, base));
    for (const port of ['train_images', 'train_labels', 'test_images', 'test_labels']) {
      expect(Buffer.from(asTensor(local[port]).data.buffer).equals(Buffer.from(asTensor(downloaded[port]).data.buffer)), port).toBe(true);
    }
    // `path` only says where the pinned bytes are: it is not part of the key.
    const key = (p: Partial<LoadParams>) => computeKey({ type: 'load', version: load.version, seed: 1, inputs: {}, deps: [], params: keyParams(load, { holdout: 0.5, ...p } as unknown as Record<string, Json>) });
    expect(key({ source: 'mnist', files: pinned, path: 'local' })).toBe(key({ source: 'mnist', files: pinned }));
    expect(key({ source: 'mnist', path: 'local' })).not.toBe(key({ source: 'mnist', path: 'elsewhere' }));
  });

  it('refuses a local file whose sha256 differs, and file names that are paths', async () => {
    const wrong = { ...pinned, 't10k-labels-idx1-ubyte.gz': { ...pinned['t10k-labels-idx1-ubyte.gz'], sha256: '0'.repeat(64) } };
    await expect(load.run(ctxFor({ source: 'mnist', files: wrong, path: 'local', holdout: 0.5 }, base))).rejects.toThrow(/has sha256 [0-9a-f]{64}, but "files" pins 0{64}/);
    await expect(load.run(ctxFor({ source: 'mnist', files: { '../x.gz': pinned['t10k-labels-idx1-ubyte.gz'] }, holdout: 0.5 }, base))).rejects.toThrow(/file names, not paths/);
    await expect(load.run(ctxFor({ source: 'cifar10', files: pinned }, base))).rejects.toThrow(/"files" does not apply to source "cifar10"/);
  });
});

describe.skipIf(!existsSync(MNIST_DIR))(`load: MNIST test split with holdout (skipped: ${MNIST_DIR} absent)`, () => {
  it('carves a stratified test split from the single split and fingerprints both files', async () => {
    const base = dirname(MNIST_DIR);
    const params = { source: 'mnist' as const, path: 'mnist', holdout: 0.2 };
    const out = await load.run(ctxFor(params, base, 7));
    expect(asTensor(out.train_images).shape).toEqual([8000, 28, 28, 1]);
    expect(asTensor(out.test_images).shape).toEqual([2000, 28, 28, 1]);
    const full = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
    classCounts(out.test_labels, 10).forEach((c, k) => expect(Math.abs(c - 0.2 * full[k])).toBeLessThanOrEqual(1));
    const deps = await load.fingerprint!(fingerprintCtx(params, base));
    expect(deps.map((d) => d.name).sort()).toEqual(['data:mnist/t10k-images-idx3-ubyte.gz', 'data:mnist/t10k-labels-idx1-ubyte.gz']);
    expect(deps.every((d) => /^[0-9a-f]{64}$/.test(d.sha256) && d.size > 0)).toBe(true);
    await expect(load.run(ctxFor({ source: 'mnist', path: 'mnist' }, base))).rejects.toThrow(/single split \(10000 samples\); set "holdout"/);
  });
});

describe('load: precomputed features', () => {
  it('reads .npy features and labels relative to path and holds out a test split', async () => {
    const base = tempDir('sieve-load-features-');
    mkdirSync(join(base, 'feats'));
    const n = 40;
    const x = Float32Array.from({ length: n * 3 }, (_, i) => Math.floor(i / 3)); // row i is [i, i, i]
    writeFileSync(join(base, 'feats', 'x.npy'), encodeNpy(tensor('float32', [n, 3], x)));
    writeFileSync(join(base, 'feats', 'y.npy'), encodeNpy(tensor('int64', [n], BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 4)))));
    const params = { source: 'features' as const, path: 'feats', train: 'x.npy', train_labels: 'y.npy', holdout: 0.25, classes: ['a', 'b', 'c', 'd'] };
    const out = await load.run(ctxFor(params, base));
    expect(asTensor(out.train_features).shape).toEqual([30, 3]);
    expect(asTensor(out.test_features).shape).toEqual([10, 3]);
    expect(classCounts(out.test_labels, 4).reduce((a, b) => a + b)).toBe(10);
    const tf = asTensor(out.test_features).data as Float32Array;
    (asTensor(out.test_labels).data as Int32Array).forEach((l, i) => expect(tf[i * 3] % 4).toBe(l));
    expect(out.classes).toEqual(['a', 'b', 'c', 'd']);
    const deps = await load.fingerprint!(fingerprintCtx(params, base));
    expect(deps.map((d) => d.name)).toEqual(['data:feats/x.npy', 'data:feats/y.npy']);
  });
});

describe('load: images', () => {
  it('decodes an image folder and a manifest with CLIP\'s resize + crop when asked; the key follows file content', async () => {
    const base = tempDir('sieve-load-images-');
    for (const [cls, g] of [['dog', 200], ['cat', 50]] as const) {
      mkdirSync(join(base, 'folder', cls), { recursive: true });
      for (let i = 0; i < 3; i++) {
        await sharp({ create: { width: 12 + i, height: 10, channels: 3, background: { r: 0, g, b: 0 } } }).png().toFile(join(base, 'folder', cls, `${i}.png`));
      }
    }
    const progress: [number, number | undefined][] = [];
    const out = await load.run(ctxFor({ source: 'image-folder', path: 'folder', resize: 6, holdout: 0.5 }, base, 1, progress));
    expect(out.classes).toEqual(['cat', 'dog']);
    expect(asTensor(out.train_images).shape).toEqual([3, 6, 6, 3]);
    expect(asTensor(out.test_images).shape).toEqual([3, 6, 6, 3]);
    const img = asTensor(out.train_images).data;
    (asTensor(out.train_labels).data as Int32Array).forEach((l, i) => expect(img[i * 108 + 1]).toBe(l === 0 ? 50 : 200));
    expect(progress.at(-1)).toEqual([6, 6]);

    writeFileSync(join(base, 'list.csv'), 'path,label,split\nfolder/dog/0.png,dog,train\nfolder/cat/1.png,cat,train\n"folder/cat/2.png",cat,test\n');
    const manifest = await load.run(ctxFor({ source: 'manifest', path: 'list.csv', resize: 4 }, base));
    expect(manifest.classes).toEqual(['cat', 'dog']);
    expect(Array.from(asTensor(manifest.train_labels).data as Int32Array)).toEqual([1, 0]);
    expect(asTensor(manifest.test_images).shape).toEqual([1, 4, 4, 3]);
    const deps = await load.fingerprint!(fingerprintCtx({ source: 'manifest', path: 'list.csv' }, base));
    expect(deps.map((d) => d.name)).toEqual(['data:list.csv', 'data:folder/dog/0.png', 'data:folder/cat/1.png', 'data:folder/cat/2.png']);

    const before = await load.fingerprint!(fingerprintCtx({ source: 'image-folder', path: 'folder' }, base));
    expect(before).toHaveLength(6);
    await sharp({ create: { width: 12, height: 10, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png().toFile(join(base, 'folder', 'cat', '0.png'));
    const after = await load.fingerprint!(fingerprintCtx({ source: 'image-folder', path: 'folder' }, base));
    expect(after[0].sha256).not.toBe(before[0].sha256);
    expect(after.slice(1)).toEqual(before.slice(1));
  });

  it('keeps images at their own size without resize, and names the odd file out when sizes differ', async () => {
    const base = tempDir('sieve-load-native-');
    for (const cls of ['a', 'b']) {
      mkdirSync(join(base, 'folder', cls), { recursive: true });
      for (let i = 0; i < 2; i++) {
        await sharp({ create: { width: 37, height: 23, channels: 3, background: { r: 10 * i, g: 99, b: 7 } } }).png().toFile(join(base, 'folder', cls, `${i}.png`));
      }
    }
    const out = await load.run(ctxFor({ source: 'image-folder', path: 'folder', holdout: 0.5 }, base));
    expect(asTensor(out.train_images).shape).toEqual([2, 23, 37, 3]);
    const pixels = asTensor(out.train_images).data;
    expect([pixels[1], pixels[2], pixels[(23 * 37 - 1) * 3 + 1]]).toEqual([99, 7, 99]);

    await sharp({ create: { width: 40, height: 23, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toFile(join(base, 'folder', 'b', '1.png'));
    await expect(load.run(ctxFor({ source: 'image-folder', path: 'folder', holdout: 0.5 }, base))).rejects.toThrow(
      /images differ in size: .*b\/1\.png is 40x23 but 0\.png \(the first\) is 37x23.*set "resize"/,
    );
    await expect(load.run(ctxFor({ source: 'cifar10', path: 'x', exif_orientation: true, holdout: 0 }, base))).rejects.toThrow(
      /param "exif_orientation" does not apply to source "cifar10"/,
    );
  });
});

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadDir } from '../../src/io/download.js';
import embed, { type EmbedParams } from '../../src/nodes/embed.js';
import { createRng } from '../../src/random/rng.js';
import { computeKey } from '../../src/runtime/keys/keys.js';
import { tensor, type Json, type Tensor } from '../../src/runtime/tensor.js';
import { keyParams, portsFor, runsInWorker, type FingerprintContext, type NodeContext, type PortValue } from '../../src/runtime/types/node-type.js';
import { writeTinyClipModel } from '../helpers/onnx-models.js';

const SHARED = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data');
const TOKENIZER_DIR = join(SHARED, 'clip-tokenizer');
const HAVE_TOKENIZER = existsSync(join(TOKENIZER_DIR, 'tokenizer.json'));
const MNIST_IMAGES = join(SHARED, 'mnist', 't10k-images-idx3-ubyte.gz');

const DEFAULTS: EmbedParams = {
  embedder: 'clip', variant: 'fp32', batch_size: 64, threads: 0, provider: 'cpu', templates: 'imagenet80',
  projection: 'none', dim: 128, normalize: true,
};

interface Recorded {
  notes: Record<string, Json>;
  logs: string[];
  progress: Array<[number, number | undefined, string | undefined]>;
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sieve-embed-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function context(params: Partial<EmbedParams>, inputs: Record<string, PortValue>, seed = 0): Promise<{ ctx: NodeContext<EmbedParams>; rec: Recorded }> {
  const rec: Recorded = { notes: {}, logs: [], progress: [] };
  const scratchDir = await mkdtemp(join(work, 'scratch-'));
  const ctx: NodeContext<EmbedParams> = {
    nodeId: 'embed',
    params: { ...DEFAULTS, ...params },
    seed,
    inputs,
    baseDir: work,
    cacheDir: join(work, 'cache'),
    scratchDir,
    signal: new AbortController().signal,
    progress: (done, total, unit) => rec.progress.push([done, total, unit]),
    log: (message) => rec.logs.push(message),
    note: (key, value) => (rec.notes[key] = value),
  };
  return { ctx, rec };
}

function images(n: number, h: number, w: number, c: number, seed: number): Tensor<'uint8'> {
  const rng = createRng(seed, 'embed-test-images');
  return tensor('uint8', [n, h, w, c], Uint8Array.from({ length: n * h * w * c }, () => rng.int(256)));
}

function asTensor(v: PortValue | undefined): Tensor<'float32'> {
  return v as Tensor<'float32'>;
}

function expectUnitRows(t: Tensor<'float32'>): void {
  const [n, d] = [t.shape[0], t.shape[t.shape.length - 1]];
  const rows = t.data.length / d;
  expect(rows % n).toBe(0);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let q = 0; q < d; q++) s += t.data[r * d + q] ** 2;
    expect(Math.sqrt(s)).toBeCloseTo(1, 5);
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('embed ports', () => {
  it('derives outputs from the embedder and the connected inputs', () => {
    const clip = portsFor(embed, DEFAULTS, new Set(['images']));
    expect(Object.keys(clip.inputs).sort()).toEqual(['classes', 'images', 'test_images']);
    expect(Object.keys(clip.outputs)).toEqual(['features']);
    const full = portsFor(embed, DEFAULTS, new Set(['images', 'test_images', 'classes']));
    expect(Object.keys(full.outputs).sort()).toEqual(['features', 'test_features', 'text_features']);
    expect(full.outputs.text_features).toMatchObject({ kind: 'tensor', dtype: 'float32', rank: 3 });
    const pixels = portsFor(embed, { ...DEFAULTS, embedder: 'pixels' }, new Set(['images', 'test_images']));
    expect(Object.keys(pixels.inputs).sort()).toEqual(['images', 'test_images']);
    expect(Object.keys(pixels.outputs).sort()).toEqual(['features', 'test_features']);
    const features = portsFor(embed, { ...DEFAULTS, embedder: 'features' }, new Set(['features']));
    expect(Object.keys(features.inputs).sort()).toEqual(['features', 'test_features']);
    expect(Object.keys(features.outputs)).toEqual(['features']);
  });

  it('has a schema with descriptions and defaults', () => {
    const schema = embed.paramsSchema as { additionalProperties: boolean; properties: Record<string, { description?: string }> };
    expect(schema.additionalProperties).toBe(false);
    for (const [name, prop] of Object.entries(schema.properties)) expect(prop.description, name).toBeTruthy();
    expect(runsInWorker(embed)).toBe(true);
  });
});

describe('embed (clip) end to end through onnxruntime', () => {
  let modelDir: string;
  let hasText = false;
  beforeAll(async () => {
    modelDir = join(work, 'tiny-clip');
    hasText = (await writeTinyClipModel(modelDir, { tokenizerDir: TOKENIZER_DIR })).text;
  });

  it('embeds train and test images: shapes, unit rows, notes and progress', async () => {
    const { ctx, rec } = await context({ model: { dir: 'tiny-clip' }, batch_size: 4 }, {
      images: images(10, 40, 48, 3, 1),
      test_images: images(3, 32, 32, 1, 2),
    });
    const out = await embed.run(ctx);
    expect(asTensor(out.features).shape).toEqual([10, 12]);
    expect(asTensor(out.test_features).shape).toEqual([3, 12]);
    expect(out.text_features).toBeUndefined();
    expectUnitRows(asTensor(out.features));
    expectUnitRows(asTensor(out.test_features));
    const model = rec.notes.model as { provider: string; variant: string; files: Record<string, { path: string; sha256: string; size: number }> };
    expect(model.provider).toBe('cpu');
    expect(model.variant).toBe('fp32');
    expect(model.files.vision.path).toBe(join(modelDir, 'onnx', 'vision_model.onnx'));
    expect(model.files.vision.sha256).toBe(createHash('sha256').update(readFileSync(model.files.vision.path)).digest('hex'));
    expect(rec.progress.at(-1)).toEqual([13, 13, 'images']);
    expect(rec.logs.some((l) => /embedded 13 images .* images\/s/.test(l))).toBe(true);
  });

  it("crops as Hugging Face (floor) by default, as OpenAI's transform with crop_rounding: half-even", async () => {
    // The tiny model takes 32 px: 30×33 → 32×35 (35 = int(32 * 33 / 30)), a margin of 3, so the crop
    // starts at column 1 (floor) or 2 (round(1.5)).
    const input = { images: images(2, 30, 33, 3, 9) };
    const run = async (params: Partial<EmbedParams>) => asTensor((await embed.run((await context({ model: { dir: 'tiny-clip' }, ...params }, input)).ctx)).features);
    const byDefault = await run({});
    const floor = await run({ crop_rounding: 'floor' });
    const halfEven = await run({ crop_rounding: 'half-even' });
    expect(maxAbsDiff(byDefault.data, floor.data)).toBe(0);
    expect(maxAbsDiff(floor.data, halfEven.data)).toBeGreaterThan(1e-4);
  });

  it('gives bit-identical features for the same inputs, and the same features for any batch size', async () => {
    const inputs = { images: images(11, 36, 36, 3, 3) };
    const a = await embed.run((await context({ model: { dir: 'tiny-clip' }, batch_size: 4 }, inputs)).ctx);
    const b = await embed.run((await context({ model: { dir: 'tiny-clip' }, batch_size: 4 }, inputs)).ctx);
    const whole = await embed.run((await context({ model: { dir: 'tiny-clip' }, batch_size: 64 }, inputs)).ctx);
    const fa = asTensor(a.features).data;
    expect(Buffer.compare(Buffer.from(fa.buffer), Buffer.from(asTensor(b.features).data.buffer))).toBe(0);
    expect(maxAbsDiff(fa, asTensor(whole.features).data)).toBeLessThan(1e-6);
  });

  it('threads, batch_size and provider are execution-only: the same key, and the same features', async () => {
    expect(embed.executionOnly).toEqual(['threads', 'batch_size', 'provider']);
    const inputs = { images: images(9, 32, 32, 3, 5) };
    const one = { model: { dir: 'tiny-clip' }, batch_size: 2, threads: 1, provider: 'cpu' } as const;
    const other = { model: { dir: 'tiny-clip' }, batch_size: 64, threads: 2, provider: 'auto' } as const;
    const material = (p: Partial<EmbedParams>) => ({
      type: 'embed', version: embed.version, seed: 0, inputs: {}, deps: [],
      params: keyParams(embed, { ...DEFAULTS, ...p } as unknown as Record<string, Json>),
    });
    expect(computeKey(material(one))).toBe(computeKey(material(other)));
    expect(computeKey(material({ ...one, variant: 'fp16' }))).not.toBe(computeKey(material(one)));
    const a = asTensor((await embed.run((await context(one, inputs)).ctx)).features).data;
    // (Run on the CPU provider: 'auto' would first try to load CUDA, noisily, where there is none.)
    const b = asTensor((await embed.run((await context({ ...other, provider: 'cpu' }, inputs)).ctx)).features).data;
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
  });

  it('loads each variant (fp32, fp16, int8) through the same path', async () => {
    const inputs = { images: images(6, 32, 32, 3, 4) };
    const results: Record<string, Float32Array> = {};
    for (const variant of ['fp32', 'fp16', 'int8'] as const) {
      const { ctx, rec } = await context({ model: { dir: 'tiny-clip' }, variant, batch_size: 4 }, inputs);
      const out = await embed.run(ctx);
      expectUnitRows(asTensor(out.features));
      results[variant] = asTensor(out.features).data;
      const suffix = { fp32: 'vision_model.onnx', fp16: 'vision_model_fp16.onnx', int8: 'vision_model_quantized.onnx' }[variant];
      expect((rec.notes.model as { files: { vision: { path: string } } }).files.vision.path.endsWith(suffix)).toBe(true);
    }
    // Reduced precision changes the bits but not the direction of the embeddings.
    expect(maxAbsDiff(results.fp16, results.fp32)).toBeGreaterThan(0);
    expect(maxAbsDiff(results.fp16, results.fp32)).toBeLessThan(1e-2);
    expect(maxAbsDiff(results.int8, results.fp32)).toBeGreaterThan(0);
    expect(maxAbsDiff(results.int8, results.fp32)).toBeLessThan(0.1);
  });

  it.skipIf(!HAVE_TOKENIZER)('embeds class prompts into [K, P, D] text features (needs shared/data/clip-tokenizer)', async () => {
    expect(hasText).toBe(true);
    const { ctx, rec } = await context({ model: { dir: 'tiny-clip' }, batch_size: 50 }, {
      images: images(2, 32, 32, 3, 5),
      classes: ['dog', 'cat', 'airplane'],
    });
    const out = await embed.run(ctx);
    const text = asTensor(out.text_features);
    expect(text.shape).toEqual([3, 80, 12]);
    expectUnitRows(text);
    // Different classes (and different templates) give different prompts, hence different rows.
    expect(maxAbsDiff(text.data.subarray(0, 12), text.data.subarray(80 * 12, 81 * 12))).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(text.data.subarray(0, 12), text.data.subarray(12, 24))).toBeGreaterThan(1e-3);
    expect(rec.progress.at(-1)).toEqual([240, 240, 'prompts']);
    expect(Object.keys((rec.notes.model as { files: object }).files).sort()).toEqual(['preprocessor', 'text', 'tokenizer', 'vision']);

    expect(rec.notes.prompts).toEqual({ count: 240, truncated: 0, examples: [] });

    const long = `a ${'very '.repeat(100)}loyal pet`;
    const withLong = await context({ model: { dir: 'tiny-clip' }, descriptions: { dog: ['barks', long], cat: ['meows', 'purrs'] } }, {
      images: images(1, 32, 32, 3, 6),
      classes: ['dog', 'cat'],
    });
    const described = await embed.run(withLong.ctx);
    expect(asTensor(described.text_features).shape).toEqual([2, 2, 12]);
    // Truncated as before, but reported (clip.tokenize would refuse it): 1 + 103 + 1 tokens.
    expect(withLong.rec.notes.prompts).toEqual({ count: 4, truncated: 1, examples: [{ text: long, tokens: 105 }] });
    expect(withLong.rec.logs.some((l) => /1 of 4 prompts are longer than the text model's context and were truncated/.test(l))).toBe(true);
  });

  it('fingerprints the model files so a changed model reruns', async () => {
    const hashed: string[] = [];
    const fctx = (params: Partial<EmbedParams>): FingerprintContext<EmbedParams> => ({
      nodeId: 'embed',
      params: { ...DEFAULTS, ...params },
      baseDir: work,
      cacheDir: join(work, 'cache'),
      hashFile: async (path) => {
        hashed.push(path);
        const bytes = await readFile(path);
        return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
      },
    });
    const deps = await embed.fingerprint!(fctx({ model: { dir: 'tiny-clip' } }));
    const names = deps.map((d) => d.name).sort();
    expect(names).toEqual(hasText ? ['model:preprocessor', 'model:text', 'model:tokenizer', 'model:vision'] : ['model:preprocessor', 'model:vision']);
    const fp16 = await embed.fingerprint!(fctx({ model: { dir: 'tiny-clip' }, variant: 'fp16' }));
    expect(fp16.find((d) => d.name === 'model:vision')!.path.endsWith('vision_model_fp16.onnx')).toBe(true);
    expect(fp16.find((d) => d.name === 'model:vision')!.sha256).not.toBe(deps.find((d) => d.name === 'model:vision')!.sha256);
    expect(await embed.fingerprint!(fctx({ embedder: 'pixels' }))).toEqual([]);
    await expect(embed.fingerprint!(fctx({ model: { dir: 'missing-model' } }))).rejects.toThrow(/missing-model does not exist/);
  });

  it('accepts the flat layout too', async () => {
    await writeTinyClipModel(join(work, 'flat-clip'), { layout: 'flat', variants: ['fp32'] });
    const out = await embed.run((await context({ model: { dir: 'flat-clip' } }, { images: images(2, 32, 32, 3, 7) })).ctx);
    expect(asTensor(out.features).shape).toEqual([2, 12]);
  });

  it('explains missing pieces', async () => {
    const noModel = await context({}, { images: images(1, 32, 32, 3, 8) });
    await expect(embed.run(noModel.ctx)).rejects.toThrow(/needs params.model/);
    const wrongVariant = await context({ model: { dir: 'flat-clip' }, variant: 'int8' }, { images: images(1, 32, 32, 3, 8) });
    await expect(embed.run(wrongVariant.ctx)).rejects.toThrow(/no int8 vision model in .*flat-clip: looked for onnx\/vision_model_quantized.onnx/);
    const noText = await context({ model: { dir: 'flat-clip' } }, { images: images(1, 32, 32, 3, 8), classes: ['dog'] });
    await expect(embed.run(noText.ctx)).rejects.toThrow(/text features need a fp32 text model/);
    const uneven = await context({ model: { dir: 'missing-dir' }, descriptions: { dog: ['a'], cat: ['b', 'c'] } }, { images: images(1, 32, 32, 3, 8), classes: ['dog', 'cat'] });
    // Prompt problems surface before the model is even looked for.
    await expect(embed.run(uneven.ctx)).rejects.toThrow(/same number of texts/);
    const badClasses = await context({ model: { dir: 'tiny-clip' } }, { images: images(1, 32, 32, 3, 8), classes: [1, 2] });
    await expect(embed.run(badClasses.ctx)).rejects.toThrow(/"classes" must be a non-empty JSON array of class names/);
  });
});

describe('embed (clip) from URLs with checksums', () => {
  let server: Server;
  let base: string;
  let requests = 0;
  const served = new Map<string, Buffer>();

  beforeAll(async () => {
    const dir = join(work, 'served-model');
    await writeTinyClipModel(dir, { variants: ['fp32'] });
    served.set('/vision_model.onnx', await readFile(join(dir, 'onnx', 'vision_model.onnx')));
    served.set('/preprocessor_config.json', await readFile(join(dir, 'preprocessor_config.json')));
    server = createServer((req, res) => {
      requests++;
      const body = served.get(req.url ?? '');
      res.writeHead(body ? 200 : 404);
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  const sha = (path: string) => createHash('sha256').update(served.get(path)!).digest('hex');

  it('downloads, verifies, reuses and embeds', async () => {
    const model = {
      files: {
        vision: { url: `${base}/vision_model.onnx`, sha256: sha('/vision_model.onnx') },
        preprocessor: { url: `${base}/preprocessor_config.json`, sha256: sha('/preprocessor_config.json') },
      },
    };
    const first = await context({ model }, { images: images(3, 32, 32, 3, 9) });
    const out = await embed.run(first.ctx);
    expect(asTensor(out.features).shape).toEqual([3, 12]);
    expect(requests).toBe(2);
    // In the one download folder (the suite's own temp dir, see vitest.config.ts), never in the cache.
    expect(existsSync(join(downloadDir(), sha('/vision_model.onnx'), 'vision_model.onnx'))).toBe(true);
    expect(existsSync(join(work, 'cache', 'downloads'))).toBe(false);
    const second = await context({ model }, { images: images(3, 32, 32, 3, 9) });
    const again = await embed.run(second.ctx);
    expect(requests).toBe(2);
    expect(Array.from(asTensor(again.features).data)).toEqual(Array.from(asTensor(out.features).data));

    const wrong = await context({ model: { files: { vision: { url: `${base}/vision_model.onnx`, sha256: 'f'.repeat(64) } } } }, { images: images(1, 32, 32, 3, 9) });
    await expect(embed.run(wrong.ctx)).rejects.toThrow(/checksum mismatch/);
  });
});

describe('embed (pixels and features)', () => {
  it('standardises pixels with training statistics and projects test images identically', async () => {
    const train = images(20, 8, 8, 1, 10);
    const { ctx, rec } = await context({ embedder: 'pixels', projection: 'random', dim: 16 }, { images: train, test_images: train }, 42);
    const out = await embed.run(ctx);
    expect(asTensor(out.features).shape).toEqual([20, 16]);
    expectUnitRows(asTensor(out.features));
    // The same images as test images get exactly the training features.
    expect(Array.from(asTensor(out.test_features).data)).toEqual(Array.from(asTensor(out.features).data));
    expect(rec.notes.embedder).toMatchObject({ embedder: 'pixels', projection: 'random', input_dim: 64, output_dim: 16 });
    // The seed picks the projection.
    const other = await embed.run((await context({ embedder: 'pixels', projection: 'random', dim: 16 }, { images: train }, 43)).ctx);
    expect(maxAbsDiff(asTensor(other.features).data, asTensor(out.features).data)).toBeGreaterThan(1e-3);
    const bad = await context({ embedder: 'pixels' }, { images: train, test_images: images(2, 4, 4, 1, 1) });
    await expect(embed.run(bad.ctx)).rejects.toThrow(/pixel transform needs equal shapes/);
  });

  it.skipIf(!existsSync(MNIST_IMAGES))('runs PCA on MNIST digits (needs shared/data/mnist)', async () => {
    const raw = gunzipSync(readFileSync(MNIST_IMAGES));
    const n = 300;
    const all = new Uint8Array(raw.buffer, raw.byteOffset + 16, 400 * 784);
    const train = tensor('uint8', [n, 28, 28, 1], all.slice(0, n * 784));
    const test = tensor('uint8', [100, 28, 28, 1], all.slice(n * 784, 400 * 784));
    const { ctx, rec } = await context({ embedder: 'pixels', projection: 'pca', dim: 20 }, { images: train, test_images: test }, 1);
    const out = await embed.run(ctx);
    expect(asTensor(out.features).shape).toEqual([300, 20]);
    expect(asTensor(out.test_features).shape).toEqual([100, 20]);
    expectUnitRows(asTensor(out.test_features));
    expect((rec.notes.embedder as { pca_iterations: number }).pca_iterations).toBeGreaterThan(1);
  });

  it('passes precomputed features through, normalised or not', async () => {
    const features = tensor('float64', [2, 2], Float64Array.from([3, 4, 0, 2]));
    const out = await embed.run((await context({ embedder: 'features' }, { features, test_features: features })).ctx);
    expect(asTensor(out.features).dtype).toBe('float32');
    expect(Array.from(asTensor(out.features).data)).toEqual([Math.fround(0.6), Math.fround(0.8), 0, 1]);
    expect(asTensor(out.test_features).shape).toEqual([2, 2]);
    const raw = await embed.run((await context({ embedder: 'features', normalize: false }, { features })).ctx);
    expect(Array.from(asTensor(raw.features).data)).toEqual([3, 4, 0, 2]);
    const mismatch = await context({ embedder: 'features' }, { features, test_features: tensor('float32', [1, 3], new Float32Array(3)) });
    await expect(embed.run(mismatch.ctx)).rejects.toThrow(/test_features have 3 dimensions but features have 2/);
  });
});


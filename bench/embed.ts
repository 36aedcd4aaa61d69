// Embedding throughput: the whole `embed` path (uint8 images → preprocess → batch → onnxruntime →
// L2-normalise) against a bare onnxruntime session fed ready float32 tensors, on the same session,
// batch size and threads, with a random-weight ViT-B/32-shaped vision model (built once into
// workDir). Target: the path keeps >= 90 % of the bare session's images/s.
//
//   npx tsx bench/embed.ts [--quick] [--work DIR]
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VIT_B32, writeClipOnnx } from '../scripts/build-clip-onnx.js';
import { ClipVisionEncoder } from '../src/clip/encoder.js';
import { embedImages, imagesFromTensor } from '../src/clip/pipeline.js';
import { defaultPreprocessWorkers } from '../src/clip/preprocess-pool.js';
import { CLIP_PREPROCESS, ImagePreprocessor } from '../src/clip/preprocess.js';
import embedNode, { type EmbedParams } from '../src/nodes/embed.js';
import { createRng } from '../src/random/rng.js';
import { tensor, type Tensor } from '../src/runtime/tensor.js';
import type { BenchOptions, BenchRow } from './types.js';

const SOURCE_SIZE = 256; // source images need a real bicubic resize to 224 and a crop

/** Smooth seeded images (gradients plus noise), uint8 [n, 256, 256, 3]. */
function syntheticImages(n: number, seed: number): Tensor<'uint8'> {
  const rng = createRng(seed, 'bench-embed-images');
  const s = SOURCE_SIZE;
  const data = new Uint8Array(n * s * s * 3);
  for (let i = 0; i < n; i++) {
    const fx = rng.next() * 4, fy = rng.next() * 4, phase = rng.next() * 6;
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        for (let c = 0; c < 3; c++) {
          const v = 128 + 100 * Math.sin((fx * x + fy * y) / 40 + phase + c) + 20 * (rng.next() - 0.5);
          data[((i * s + y) * s + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
  }
  return tensor('uint8', [n, s, s, 3], data);
}

async function ensureModel(workDir: string): Promise<string> {
  const dir = join(workDir, 'clip-vit-b32-random');
  if (!existsSync(join(dir, 'onnx', 'vision_model.onnx')) || !existsSync(join(dir, 'preprocessor_config.json'))) {
    await mkdir(dir, { recursive: true });
    await writeClipOnnx({ out: dir, seed: 0, vision: VIT_B32, text: null });
  }
  return dir;
}

/** The images preprocessed ahead of time into float32 batches: the bare session's input. */
async function readyBatches(images: Tensor<'uint8'>, preprocessor: ImagePreprocessor, batch: number): Promise<Float32Array[]> {
  const source = imagesFromTensor(images);
  const per = 3 * 224 * 224;
  const batches: Float32Array[] = [];
  for (let start = 0; start < source.count; start += batch) {
    const count = Math.min(batch, source.count - start);
    const pixels = new Float32Array(count * per);
    for (let j = 0; j < count; j++) await preprocessor.into(source.image(start + j), pixels, j * per, { height: 224, width: 224 });
    batches.push(pixels);
  }
  return batches;
}

/** images/s of session.run over ready float32 batches. */
async function bareSession(encoder: ClipVisionEncoder, batches: readonly Float32Array[]): Promise<number> {
  let n = 0;
  const started = performance.now();
  for (const pixels of batches) {
    const count = pixels.length / (3 * 224 * 224);
    await encoder.run(pixels, count, 224, 224);
    n += count;
  }
  return n / ((performance.now() - started) / 1000);
}

export async function benchEmbed(opts: BenchOptions): Promise<BenchRow[]> {
  const n = opts.quick ? 64 : 256;
  const batchSize = opts.quick ? 16 : 32;
  const rounds = opts.quick ? 2 : 3;
  const threads = 0; // onnxruntime's default (one per physical core) for every measurement
  const modelDir = await ensureModel(opts.workDir);
  const images = syntheticImages(n, 0);
  const preprocessor = new ImagePreprocessor(CLIP_PREPROCESS);
  const ready = await readyBatches(images, preprocessor, batchSize);

  // One session for both measurements, warmed up by one batch.
  const encoder = await ClipVisionEncoder.open(join(modelDir, 'onnx', 'vision_model.onnx'), { provider: 'cpu', threads });
  let bare = 0;
  let path = 0;
  let pathOther = 0;
  // The default preprocessing placement, and the other one for comparison.
  const defaultWorkers = defaultPreprocessWorkers();
  const otherWorkers = defaultWorkers > 0 ? 0 : 2;
  try {
    await bareSession(encoder, ready.slice(0, 1));
    // The path's warm-up: its preprocessing worker threads start (and compile) on first use.
    const warm = tensor('uint8', [batchSize, SOURCE_SIZE, SOURCE_SIZE, 3], images.data.subarray(0, batchSize * SOURCE_SIZE * SOURCE_SIZE * 3) as Uint8Array);
    await embedImages(encoder, preprocessor, imagesFromTensor(warm), { batchSize });
    await embedImages(encoder, preprocessor, imagesFromTensor(warm), { batchSize, preprocessWorkers: otherWorkers });
    // Interleaved rounds, best of each, so drift in machine load hits both alike.
    for (let r = 0; r < rounds; r++) {
      bare = Math.max(bare, await bareSession(encoder, ready));
      const run = await embedImages(encoder, preprocessor, imagesFromTensor(images), { batchSize });
      path = Math.max(path, n / run.seconds);
      const other = await embedImages(encoder, preprocessor, imagesFromTensor(images), { batchSize, preprocessWorkers: otherWorkers });
      pathOther = Math.max(pathOther, n / other.seconds);
    }
  } finally {
    await encoder.release();
  }

  // The node's own run, with its session load and model hashing: informational.
  const params: EmbedParams = {
    embedder: 'clip', model: { dir: modelDir }, variant: 'fp32', batch_size: batchSize, threads, provider: 'cpu',
    templates: 'imagenet80', projection: 'none', dim: 128, normalize: true,
  };
  const scratchDir = await mkdtemp(join(opts.workDir, 'scratch-'));
  const started = performance.now();
  try {
    await embedNode.run({
      nodeId: 'bench-embed', params, seed: 0, inputs: { images }, baseDir: opts.workDir, cacheDir: join(opts.workDir, 'cache'),
      scratchDir, signal: new AbortController().signal, progress: () => undefined, log: () => undefined, note: () => undefined,
    });
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
  const nodeRate = n / ((performance.now() - started) / 1000);

  const label = `ViT-B/32 random weights, ${n} images ${SOURCE_SIZE}px, batch ${batchSize}`;
  const ratio = path / bare;
  return [
    { bench: 'embed', metric: `bare onnxruntime session images/s (${label})`, value: bare, unit: 'images/s' },
    {
      bench: 'embed',
      metric: `embed path images/s: uint8 → preprocess (${defaultWorkers} workers) → run → L2 (${label})`,
      value: path,
      unit: 'images/s',
      baseline: bare,
      ratio,
      target: '>= 0.90 of bare session',
      ok: ratio >= 0.9,
    },
    {
      bench: 'embed',
      metric: `embed path images/s with preprocessWorkers: ${otherWorkers} instead of the default ${defaultWorkers} (${label})`,
      value: pathOther,
      unit: 'images/s',
      baseline: bare,
      ratio: pathOther / bare,
    },
    { bench: 'embed', metric: `embed node run images/s incl. session load and model hashing (${label})`, value: nodeRate, unit: 'images/s', baseline: bare, ratio: nodeRate / bare },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const argv = process.argv.slice(2);
  const workIndex = argv.indexOf('--work');
  const workDir = workIndex >= 0 ? resolve(argv[workIndex + 1]) : await mkdtemp(join(tmpdir(), 'sieve-bench-'));
  const rows = await benchEmbed({ quick: argv.includes('--quick'), workDir });
  for (const row of rows) {
    const extra = row.ratio !== undefined ? `  ratio ${row.ratio.toFixed(3)}${row.target ? ` (target ${row.target}: ${row.ok ? 'ok' : 'MISSED'})` : ''}` : '';
    console.log(`${row.metric}: ${row.value.toFixed(2)} ${row.unit}${extra}`);
  }
}

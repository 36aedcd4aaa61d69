// Batched CLIP embedding with bounded memory: images are preprocessed one batch at a time into one
// of two reusable buffers, and batch i+1 is preprocessed on worker threads (./preprocess-pool.ts)
// while onnxruntime runs batch i, which blocks the calling thread. Outputs are L2-normalised rows.
import type { Tensor } from '../runtime/tensor.js';
import { l2NormalizeRowsInPlace } from '../methods/pixels.js';
import type { ClipTextEncoder, ClipVisionEncoder } from './encoder.js';
import { ClipModelError } from './encoder.js';
import type { ImagePreprocessor, RawImage } from './preprocess.js';
import { defaultPreprocessWorkers, sharedPreprocessPool } from './preprocess-pool.js';
import type { ClipTokenizer } from './tokenizer.js';
import { CONTEXT_LENGTH } from './tokenizer.js';

/** Images by index: raw pixels or encoded bytes. */
export interface ImageSource {
  readonly count: number;
  image(index: number): RawImage | Uint8Array;
}

/** Views (no copies) of the images of a uint8 NHWC tensor. */
export function imagesFromTensor(images: Tensor, name = 'images'): ImageSource {
  if (images.dtype !== 'uint8' || images.shape.length !== 4) {
    throw new ClipModelError(`${name} must be a uint8 tensor [N, H, W, C], got ${images.dtype} [${images.shape.join(', ')}]`);
  }
  const [count, height, width, channels] = images.shape;
  const stride = height * width * channels;
  const data = images.data as Uint8Array;
  return { count, image: (i) => ({ data: data.subarray(i * stride, (i + 1) * stride), height, width, channels }) };
}

export interface BatchOptions {
  batchSize: number;
  /** Image preprocessing threads (0: on the calling thread); default: the CPUs beyond two, at most 4. */
  preprocessWorkers?: number;
  signal?: AbortSignal;
  onProgress?(done: number, total: number): void;
}

export interface Embeddings {
  /** [count, dim] L2-normalised rows. */
  data: Float32Array;
  count: number;
  dim: number;
  seconds: number;
  /** Prompts cut to the context length (CLIP's clip.tokenize would refuse them): their texts and full token counts. */
  truncated?: Array<{ text: string; tokens: number }>;
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ClipModelError(`batch_size must be a positive integer, got ${batchSize}`);
}

function sizeOf(image: RawImage | Uint8Array): { height: number; width: number } | undefined {
  return image instanceof Uint8Array ? undefined : { height: image.height, width: image.width };
}

/** Embeds every image of `source` with the vision encoder. */
export async function embedImages(
  encoder: ClipVisionEncoder,
  preprocessor: ImagePreprocessor,
  source: ImageSource,
  options: BatchOptions,
): Promise<Embeddings> {
  checkBatchSize(options.batchSize);
  const n = source.count;
  if (n === 0) throw new ClipModelError('no images to embed');
  const started = performance.now();
  // The batch's pixel size: fixed by the model when it says so, else what the first image gives.
  const first = sizeOf(source.image(0));
  const size = encoder.imageSize ?? (first ? preprocessor.outputSize(first.height, first.width) : undefined) ?? {
    height: preprocessor.config.cropHeight,
    width: preprocessor.config.cropWidth,
  };
  if (first && encoder.imageSize) {
    const produced = preprocessor.outputSize(first.height, first.width);
    if (produced.height !== size.height || produced.width !== size.width) {
      throw new ClipModelError(
        `${encoder.path} expects ${size.width}x${size.height} images but preprocessing gives ${produced.width}x${produced.height} (check preprocessor_config.json)`,
      );
    }
  }
  const perImage = 3 * size.height * size.width;
  const batch = Math.min(options.batchSize, n);
  const workers = options.preprocessWorkers ?? defaultPreprocessWorkers();
  const pool = workers > 0 ? await sharedPreprocessPool(preprocessor.config, workers) : undefined;
  const buffer = (): Float32Array =>
    pool ? new Float32Array(new SharedArrayBuffer(batch * perImage * Float32Array.BYTES_PER_ELEMENT)) : new Float32Array(batch * perImage);
  const buffers = [buffer(), buffer()];
  // onnxruntime refuses SharedArrayBuffer-backed input: a batch is copied into a plain buffer (a few ms).
  const plain = pool ? new Float32Array(batch * perImage) : undefined;
  const batches = Math.ceil(n / batch);
  const worker = pool ?? preprocessor;

  const prepare = async (b: number): Promise<{ pixels: Float32Array; count: number }> => {
    const start = b * batch;
    const count = Math.min(batch, n - start);
    const pixels = buffers[b % 2].subarray(0, count * perImage);
    await Promise.all(Array.from({ length: count }, (_, j) => worker.into(source.image(start + j), pixels, j * perImage, size)));
    return { pixels, count };
  };

  let out: Float32Array | undefined;
  let dim = 0;
  let pending: Promise<{ pixels: Float32Array; count: number }> | undefined = prepare(0);
  try {
    for (let b = 0; b < batches; b++) {
      options.signal?.throwIfAborted();
      const { pixels, count } = await pending!;
      // Start the next batch's preprocessing (into the other buffer) before inference.
      pending = b + 1 < batches ? prepare(b + 1) : undefined;
      let input = pixels;
      if (plain) {
        plain.set(pixels);
        input = plain.subarray(0, pixels.length);
      }
      const result = await encoder.run(input, count, size.height, size.width);
      if (!out) {
        dim = result.dim;
        out = new Float32Array(n * dim);
      }
      out.set(l2NormalizeRowsInPlace(result.data, count, dim), b * batch * dim);
      options.onProgress?.(b * batch + count, n);
    }
  } finally {
    // A failure mid-way must not leave the in-flight preprocessing as an unhandled rejection.
    pending?.catch(() => undefined);
  }
  return { data: out!, count: n, dim, seconds: (performance.now() - started) / 1000 };
}

/**
 * Embeds a K × P grid of prompts with the text encoder: returns [K * P, dim] (row k * P + p),
 * each row L2-normalised.
 */
export async function embedPrompts(
  encoder: ClipTextEncoder,
  tokenizer: ClipTokenizer,
  prompts: readonly (readonly string[])[],
  options: BatchOptions,
): Promise<Embeddings> {
  checkBatchSize(options.batchSize);
  const started = performance.now();
  const flat = prompts.flat();
  if (flat.length === 0) throw new ClipModelError('no prompts to embed');
  const contextLength = encoder.contextLength ?? CONTEXT_LENGTH;
  const truncated: Array<{ text: string; tokens: number }> = [];
  let out: Float32Array | undefined;
  let dim = 0;
  for (let start = 0; start < flat.length; start += options.batchSize) {
    options.signal?.throwIfAborted();
    const texts = flat.slice(start, start + options.batchSize);
    const ids = tokenizer.tokenize(texts, { contextLength, onTruncated: (i, tokens) => truncated.push({ text: texts[i], tokens }) });
    const result = await encoder.run(ids, texts.length, contextLength, tokenizer.endOfText);
    if (!out) {
      dim = result.dim;
      out = new Float32Array(flat.length * dim);
    }
    out.set(l2NormalizeRowsInPlace(result.data, texts.length, dim), start * dim);
    options.onProgress?.(start + texts.length, flat.length);
  }
  return { data: out!, count: flat.length, dim, seconds: (performance.now() - started) / 1000, truncated };
}

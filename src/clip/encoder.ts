// CLIP image and text encoders on onnxruntime-node, for models in the layout of the Hugging Face
// ONNX exports: the vision model takes `pixel_values` [B, 3, H, W] (float32, or float16 in fp16
// exports) and returns `image_embeds` [B, D]; the text model takes `input_ids` [B, 77] (int64, maybe
// with `attention_mask`) and returns `text_embeds` [B, D]. Names and element types are read from
// the session, so an export that differs fails with a message that lists what it has.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { float16ToFloat32, float32ToFloat16 } from './float16.js';

export type ProviderChoice = 'auto' | 'cpu' | 'cuda';
export type ProviderUsed = 'cpu' | 'cuda';

export interface SessionOptions {
  /** Intra-op threads; 0 or undefined lets onnxruntime choose (one per physical core). */
  threads?: number;
  provider?: ProviderChoice;
}

export class ClipModelError extends Error {
  override name = 'ClipModelError';
}

export interface OpenedSession {
  session: ort.InferenceSession;
  provider: ProviderUsed;
  /** Why `auto` did not use CUDA, when it did not. */
  fallbackReason?: string;
}

/** Whether onnxruntime-node's CUDA provider library is installed beside its binding. */
export function cudaProviderInstalled(): boolean {
  try {
    const require = createRequire(import.meta.url);
    const bin = join(dirname(require.resolve('onnxruntime-node')), '..', 'bin');
    const libName = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    return readdirSync(bin).some((napi) => existsSync(join(bin, napi, process.platform, process.arch, libName)));
  } catch {
    return false;
  }
}

function sessionOptions(threads: number | undefined, provider: ProviderUsed): ort.InferenceSession.SessionOptions {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  };
  // onnxruntime-node rejects an undefined value: leave the key out to get its default.
  if (threads && threads > 0) options.intraOpNumThreads = threads;
  return options;
}

/** Opens a session with the requested provider; `auto` tries CUDA first and falls back to CPU. */
export async function openSession(path: string, options: SessionOptions = {}): Promise<OpenedSession> {
  const provider = options.provider ?? 'auto';
  const create = async (p: ProviderUsed) => ort.InferenceSession.create(path, sessionOptions(options.threads, p));
  if (provider === 'cuda') {
    try {
      return { session: await create('cuda'), provider: 'cuda' };
    } catch (e) {
      throw new ClipModelError(`cannot open ${path} with provider "cuda": ${(e as Error).message}`);
    }
  }
  let fallbackReason: string | undefined;
  if (provider === 'auto') {
    if (!cudaProviderInstalled()) {
      fallbackReason = 'the onnxruntime-node CUDA provider library is not installed';
    } else {
      try {
        return { session: await create('cuda'), provider: 'cuda' };
      } catch (e) {
        fallbackReason = `CUDA provider failed: ${(e as Error).message.split('\n')[0]}`;
      }
    }
  }
  try {
    return { session: await create('cpu'), provider: 'cpu', fallbackReason };
  } catch (e) {
    throw new ClipModelError(`cannot open ONNX model ${path}: ${(e as Error).message}`);
  }
}

interface IoInfo {
  name: string;
  type: string;
  shape: ReadonlyArray<number | string>;
}

function describeIo(list: readonly ort.InferenceSession.ValueMetadata[]): string {
  return list
    .map((m) => (m.isTensor ? `${m.name}: ${m.type}[${m.shape.join(', ')}]` : `${m.name} (not a tensor)`))
    .join('; ');
}

function tensorIo(list: readonly ort.InferenceSession.ValueMetadata[]): IoInfo[] {
  return list.filter((m): m is ort.InferenceSession.TensorValueMetadata => m.isTensor).map((m) => ({ name: m.name, type: m.type, shape: m.shape }));
}

/** The named entry, else the only entry satisfying `fallback`; undefined when ambiguous. */
function pick(list: IoInfo[], names: readonly string[], fallback: (io: IoInfo) => boolean): IoInfo | undefined {
  for (const name of names) {
    const hit = list.find((io) => io.name === name);
    if (hit) return hit;
  }
  const candidates = list.filter(fallback);
  return candidates.length === 1 ? candidates[0] : undefined;
}

function readFloatOutput(value: ort.OnnxValue, name: string, rows: number, path: string): { data: Float32Array; dim: number } {
  const t = value as ort.Tensor;
  if (t.dims.length !== 2 || t.dims[0] !== rows) {
    throw new ClipModelError(`${path}: output ${name} has shape [${t.dims.join(', ')}], expected [${rows}, D]`);
  }
  const dim = t.dims[1];
  if (t.type === 'float32') return { data: new Float32Array(t.data as Float32Array), dim };
  if (t.type === 'float16') return { data: float16ToFloat32(t.data as Uint16Array), dim };
  throw new ClipModelError(`${path}: output ${name} is ${t.type}, expected float32 or float16`);
}

/** CLIP image tower. */
export class ClipVisionEncoder {
  private constructor(
    readonly path: string,
    private readonly session: ort.InferenceSession,
    readonly provider: ProviderUsed,
    readonly fallbackReason: string | undefined,
    readonly inputName: string,
    readonly inputType: 'float32' | 'float16',
    readonly outputName: string,
    /** Input height and width when the model fixes them. */
    readonly imageSize: { height: number; width: number } | undefined,
  ) {}

  static async open(path: string, options: SessionOptions = {}): Promise<ClipVisionEncoder> {
    const { session, provider, fallbackReason } = await openSession(path, options);
    try {
      const inputs = tensorIo(session.inputMetadata);
      const outputs = tensorIo(session.outputMetadata);
      const input = pick(inputs, ['pixel_values'], (io) => io.shape.length === 4);
      if (!input || inputs.length !== 1) {
        throw new ClipModelError(
          `${path} is not a CLIP vision model: expected one input pixel_values [B, 3, H, W]; it has ${describeIo(session.inputMetadata)}`,
        );
      }
      if (input.type !== 'float32' && input.type !== 'float16') {
        throw new ClipModelError(`${path}: input ${input.name} is ${input.type}, expected float32 or float16`);
      }
      const output = pick(outputs, ['image_embeds', 'image_features', 'embeddings'], (io) => io.shape.length === 2);
      if (!output) {
        throw new ClipModelError(`${path}: no image embedding output (image_embeds [B, D]); outputs are ${describeIo(session.outputMetadata)}`);
      }
      const [, channels, h, w] = input.shape;
      if (typeof channels === 'number' && channels !== 3) throw new ClipModelError(`${path}: ${input.name} has ${channels} channels, expected 3`);
      const imageSize = typeof h === 'number' && typeof w === 'number' ? { height: h, width: w } : undefined;
      return new ClipVisionEncoder(path, session, provider, fallbackReason, input.name, input.type, output.name, imageSize);
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  /** Raw (unnormalised) embeddings [count, D] of a preprocessed CHW float32 batch. */
  async run(pixels: Float32Array, count: number, height: number, width: number): Promise<{ data: Float32Array; dim: number }> {
    if (pixels.length !== count * 3 * height * width) {
      throw new ClipModelError(`pixel batch has ${pixels.length} values, expected ${count}x3x${height}x${width}`);
    }
    if (this.imageSize && (this.imageSize.height !== height || this.imageSize.width !== width)) {
      throw new ClipModelError(
        `${this.path} expects ${this.imageSize.width}x${this.imageSize.height} images but preprocessing gives ${width}x${height} (check preprocessor_config.json)`,
      );
    }
    const dims = [count, 3, height, width];
    const input =
      this.inputType === 'float16' ? new ort.Tensor('float16', float32ToFloat16(pixels), dims) : new ort.Tensor('float32', pixels, dims);
    const result = await this.session.run({ [this.inputName]: input }, [this.outputName]);
    return readFloatOutput(result[this.outputName], this.outputName, count, this.path);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** CLIP text tower. */
export class ClipTextEncoder {
  private constructor(
    readonly path: string,
    private readonly session: ort.InferenceSession,
    readonly provider: ProviderUsed,
    readonly fallbackReason: string | undefined,
    readonly idsName: string,
    readonly idsType: 'int64' | 'int32',
    readonly maskName: string | undefined,
    readonly maskType: 'int64' | 'int32' | undefined,
    readonly outputName: string,
    /** Sequence length when the model fixes it. */
    readonly contextLength: number | undefined,
  ) {}

  static async open(path: string, options: SessionOptions = {}): Promise<ClipTextEncoder> {
    const { session, provider, fallbackReason } = await openSession(path, options);
    try {
      const inputs = tensorIo(session.inputMetadata);
      const outputs = tensorIo(session.outputMetadata);
      const ids = inputs.find((io) => io.name === 'input_ids');
      const mask = inputs.find((io) => io.name === 'attention_mask');
      const others = inputs.filter((io) => io !== ids && io !== mask);
      if (!ids || others.length > 0) {
        throw new ClipModelError(
          `${path} is not a CLIP text model: expected input_ids [B, 77] (and optionally attention_mask); it has ${describeIo(session.inputMetadata)}`,
        );
      }
      const intType = (io: IoInfo): 'int64' | 'int32' => {
        if (io.type !== 'int64' && io.type !== 'int32') throw new ClipModelError(`${path}: input ${io.name} is ${io.type}, expected int64 or int32`);
        return io.type;
      };
      const output = pick(outputs, ['text_embeds', 'text_features', 'embeddings'], (io) => io.shape.length === 2);
      if (!output) {
        throw new ClipModelError(`${path}: no text embedding output (text_embeds [B, D]); outputs are ${describeIo(session.outputMetadata)}`);
      }
      const length = ids.shape[1];
      return new ClipTextEncoder(
        path, session, provider, fallbackReason, ids.name, intType(ids), mask?.name, mask ? intType(mask) : undefined,
        output.name, typeof length === 'number' ? length : undefined,
      );
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  /**
   * Raw embeddings [count, D] of token rows [count, contextLength] (zero-padded after the end token).
   * The attention mask, when the model takes one, is 1 up to and including the end token.
   */
  async run(ids: Int32Array, count: number, contextLength: number, endOfText: number): Promise<{ data: Float32Array; dim: number }> {
    if (ids.length !== count * contextLength) throw new ClipModelError(`token batch has ${ids.length} ids, expected ${count}x${contextLength}`);
    const dims = [count, contextLength];
    const asTensor = (values: Int32Array, type: 'int64' | 'int32') =>
      type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims) : new ort.Tensor('int32', values, dims);
    const feeds: Record<string, ort.Tensor> = { [this.idsName]: asTensor(ids, this.idsType) };
    if (this.maskName && this.maskType) {
      const mask = new Int32Array(ids.length);
      for (let r = 0; r < count; r++) {
        const row = r * contextLength;
        const end = ids.subarray(row, row + contextLength).indexOf(endOfText);
        mask.fill(1, row, row + (end < 0 ? contextLength : end + 1));
      }
      feeds[this.maskName] = asTensor(mask, this.maskType);
    }
    const result = await this.session.run(feeds, [this.outputName]);
    return readFloatOutput(result[this.outputName], this.outputName, count, this.path);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

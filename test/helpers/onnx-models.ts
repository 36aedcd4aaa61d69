// Small ONNX CLIP-like encoders for tests, with the input/output names, dtypes and dynamic batch
// dimension of the Hugging Face exports, in fp32, fp16 and int8 (quantised weights with
// DequantizeLinear, and a DynamicQuantizeLinear + MatMulInteger projection, as onnxruntime's dynamic
// quantisation writes them). Graphs are linear so tests can compute the expected output in JS:
//   vision: pixel_values → Conv(patch, stride patch) → ReduceMean(H, W) → MatMul → image_embeds
//   text:   input_ids → Gather(embedding table) → (masked) mean over positions → MatMul → text_embeds
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataType, OnnxGraph, preprocessorConfigJson } from '../../scripts/build-clip-onnx.js';
import { float32ToFloat16 } from '../../src/clip/float16.js';
import { createRng } from '../../src/random/rng.js';

export type TinyVariant = 'fp32' | 'fp16' | 'int8';

export interface TinyVisionConfig {
  imageSize: number;
  patch: number;
  width: number;
  dim: number;
  seed: number;
}

export interface TinyTextConfig {
  vocabSize: number;
  contextLength: number;
  width: number;
  dim: number;
  seed: number;
  /** Adds an attention_mask input and pools over unmasked positions only. */
  attentionMask: boolean;
}

export const TINY_VISION: TinyVisionConfig = { imageSize: 32, patch: 8, width: 16, dim: 12, seed: 1 };
export const TINY_TEXT: TinyTextConfig = { vocabSize: 49408, contextLength: 77, width: 8, dim: 12, seed: 2, attentionMask: false };

function gaussian(n: number, seed: number, stream: string, std: number): Float32Array {
  const rng = createRng(seed, stream);
  return Float32Array.from({ length: n }, () => rng.normal() * std);
}

export function tinyVisionWeights(c: TinyVisionConfig): { conv: Float32Array; proj: Float32Array } {
  return {
    conv: gaussian(c.width * 3 * c.patch * c.patch, c.seed, 'tiny-vision/conv', 0.1),
    proj: gaussian(c.width * c.dim, c.seed, 'tiny-vision/proj', 0.5),
  };
}

export function tinyTextWeights(c: TinyTextConfig): { table: Float32Array; proj: Float32Array } {
  return {
    table: gaussian(c.vocabSize * c.width, c.seed, 'tiny-text/table', 1),
    proj: gaussian(c.width * c.dim, c.seed, 'tiny-text/proj', 0.5),
  };
}

/** Symmetric per-tensor int8 quantisation: w ≈ q · scale. */
function quantise(w: Float32Array): { q: Int8Array; scale: number } {
  let max = 0;
  for (const v of w) max = Math.max(max, Math.abs(v));
  const scale = max / 127 || 1;
  return { q: Int8Array.from(w, (v) => Math.max(-127, Math.min(127, Math.round(v / scale)))), scale };
}

/** A constant weight in the variant's storage: fp32, fp16, or int8 behind DequantizeLinear. */
function weight(g: OnnxGraph, name: string, dims: number[], w: Float32Array, variant: TinyVariant): string {
  if (variant === 'fp16') return g.init(name, DataType.FLOAT16, dims, float32ToFloat16(w));
  if (variant === 'fp32') return g.init(name, DataType.FLOAT, dims, w);
  const { q, scale } = quantise(w);
  return g.op('DequantizeLinear', [g.init(`${name}_q`, DataType.INT8, dims, q), g.scalar(`${name}_scale`, scale), g.init(`${name}_zp`, DataType.INT8, [], Int8Array.of(0))]);
}

/** x [B, in] · w [in, out]; int8 uses dynamic activation quantisation and MatMulInteger. */
function projection(g: OnnxGraph, x: string, w: Float32Array, inDim: number, outDim: number, variant: TinyVariant): string {
  if (variant !== 'int8') return g.op('MatMul', [x, weight(g, 'proj', [inDim, outDim], w, variant)]);
  const [xq, xScale, xZero] = g.opN('DynamicQuantizeLinear', [x], 3);
  const { q, scale } = quantise(w);
  const wq = g.init('proj_q', DataType.INT8, [inDim, outDim], q);
  const product = g.op('MatMulInteger', [xq, wq, xZero, g.init('proj_zp', DataType.INT8, [], Int8Array.of(0))]);
  const asFloat = g.op('Cast', [product], { to: { i: DataType.FLOAT } });
  return g.op('Mul', [g.op('Mul', [asFloat, xScale]), g.scalar('proj_scale', scale)]);
}

export function buildTinyVision(c: TinyVisionConfig, variant: TinyVariant): Uint8Array {
  const g = new OnnxGraph('tiny_vision');
  const { conv, proj } = tinyVisionWeights(c);
  const io = variant === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
  const pixels = g.input('pixel_values', io, ['batch_size', 3, c.imageSize, c.imageSize]);
  const patches = g.op('Conv', [pixels, weight(g, 'conv', [c.width, 3, c.patch, c.patch], conv, variant)], {
    kernel_shape: { ints: [c.patch, c.patch] },
    strides: { ints: [c.patch, c.patch] },
  });
  const pooled = g.op('ReduceMean', [patches], { axes: { ints: [2, 3] }, keepdims: { i: 0 } });
  g.output(projection(g, pooled, proj, c.width, c.dim, variant), 'image_embeds', io, ['batch_size', c.dim]);
  return g.encode();
}

export function buildTinyText(c: TinyTextConfig, variant: TinyVariant): Uint8Array {
  const g = new OnnxGraph('tiny_text');
  const { table, proj } = tinyTextWeights(c);
  const ids = g.input('input_ids', DataType.INT64, ['batch_size', c.contextLength]);
  const embedded = g.op('Gather', [weight(g, 'table', [c.vocabSize, c.width], table, variant), ids], { axis: { i: 0 } });
  let pooled: string;
  if (c.attentionMask) {
    const mask = g.input('attention_mask', DataType.INT64, ['batch_size', c.contextLength]);
    const maskF = g.op('Cast', [mask], { to: { i: variant === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT } });
    const weighted = g.op('Mul', [embedded, g.op('Unsqueeze', [maskF, g.ints('axis2', [2])])]);
    const total = g.op('ReduceSum', [weighted, g.ints('axis1', [1])], { keepdims: { i: 0 } });
    pooled = g.op('Div', [total, g.op('ReduceSum', [maskF, g.ints('axis1b', [1])], { keepdims: { i: 1 } })]);
  } else {
    pooled = g.op('ReduceMean', [embedded], { axes: { ints: [1] }, keepdims: { i: 0 } });
  }
  g.output(projection(g, pooled, proj, c.width, c.dim, variant), 'text_embeds', variant === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT, [
    'batch_size',
    c.dim,
  ]);
  return g.encode();
}

/** fp32 reference of the tiny vision model on one CHW image: the unnormalised embedding. */
export function tinyVisionReference(c: TinyVisionConfig, pixels: Float32Array): Float64Array {
  const { conv, proj } = tinyVisionWeights(c);
  const s = c.imageSize;
  const grid = s / c.patch;
  const pooled = new Float64Array(c.width);
  for (let e = 0; e < c.width; e++) {
    let sum = 0;
    for (let ch = 0; ch < 3; ch++) {
      for (let i = 0; i < c.patch; i++) {
        for (let j = 0; j < c.patch; j++) {
          const w = conv[((e * 3 + ch) * c.patch + i) * c.patch + j];
          for (let py = 0; py < grid; py++) for (let px = 0; px < grid; px++) sum += w * pixels[(ch * s + py * c.patch + i) * s + px * c.patch + j];
        }
      }
    }
    pooled[e] = sum / (grid * grid);
  }
  const out = new Float64Array(c.dim);
  for (let d = 0; d < c.dim; d++) for (let e = 0; e < c.width; e++) out[d] += pooled[e] * proj[e * c.dim + d];
  return out;
}

/** fp32 reference of the tiny text model on one row of token ids. */
export function tinyTextReference(c: TinyTextConfig, ids: ArrayLike<number>, endOfText: number): Float64Array {
  const { table, proj } = tinyTextWeights(c);
  const end = Array.from(ids).indexOf(endOfText);
  const used = c.attentionMask ? end + 1 : c.contextLength;
  const pooled = new Float64Array(c.width);
  for (let t = 0; t < used; t++) for (let e = 0; e < c.width; e++) pooled[e] += table[ids[t] * c.width + e] / used;
  const out = new Float64Array(c.dim);
  for (let d = 0; d < c.dim; d++) for (let e = 0; e < c.width; e++) out[d] += pooled[e] * proj[e * c.dim + d];
  return out;
}

const SUFFIX: Record<TinyVariant, string> = { fp32: '', fp16: '_fp16', int8: '_quantized' };

export interface TinyModelDirOptions {
  variants?: TinyVariant[];
  /** 'onnx': files under onnx/ (HF export layout); 'flat': next to the configs. */
  layout?: 'onnx' | 'flat';
  /** Directory holding tokenizer.json to copy; the text tower is written only when it exists. */
  tokenizerDir?: string;
  vision?: TinyVisionConfig;
  text?: TinyTextConfig;
  /** Omit preprocessor_config.json (the code then uses CLIP's 224-pixel defaults). */
  omitPreprocessor?: boolean;
}

/** Writes a model directory like a Hugging Face ONNX export; returns whether the text tower was written. */
export async function writeTinyClipModel(dir: string, options: TinyModelDirOptions = {}): Promise<{ text: boolean }> {
  const vision = options.vision ?? TINY_VISION;
  const text = options.text ?? TINY_TEXT;
  const folder = options.layout === 'flat' ? dir : join(dir, 'onnx');
  await mkdir(folder, { recursive: true });
  const tokenizer = options.tokenizerDir ? join(options.tokenizerDir, 'tokenizer.json') : undefined;
  const withText = tokenizer !== undefined && existsSync(tokenizer);
  for (const variant of options.variants ?? ['fp32', 'fp16', 'int8']) {
    await writeFile(join(folder, `vision_model${SUFFIX[variant]}.onnx`), buildTinyVision(vision, variant));
    if (withText) await writeFile(join(folder, `text_model${SUFFIX[variant]}.onnx`), buildTinyText(text, variant));
  }
  if (!options.omitPreprocessor) await writeFile(join(dir, 'preprocessor_config.json'), preprocessorConfigJson(vision.imageSize));
  if (withText) await writeFile(join(dir, 'tokenizer.json'), await readFile(tokenizer!));
  return { text: withText };
}

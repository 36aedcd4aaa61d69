// The tfjs CLIP text transformer against the ONNX text encoder (onnxruntime-node) on the same
// random-weight model, its truncation to the longest EOT position, and its input-embedding
// gradients against finite differences.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type * as tfjs from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTextModel } from '../../scripts/build-clip-onnx.js';
import { ClipTextModel, eotPositions } from '../../src/clip/text-model.js';
import {
  assembleTextWeights, loadTextWeightsFromOnnx, loadTextWeightsFromSafetensors, readOnnxTextWeights, TextWeightsError, type TextModelWeights,
} from '../../src/clip/text-weights.js';
import { selectBackend, type Tf } from '../../src/methods/train/backend.js';
import { createRng } from '../../src/random/rng.js';
import { encodeSafetensors } from '../../src/runtime/store/safetensors.js';
import { tensor, type Tensor } from '../../src/runtime/tensor.js';

export const SMALL_TEXT = { vocabSize: 600, contextLength: 77, width: 32, layers: 2, heads: 4, mlp: 64, embedDim: 16 };
const EOT = SMALL_TEXT.vocabSize - 1;
const SOT = SMALL_TEXT.vocabSize - 2;

function idsOf(rows: number[][], length = 77): Int32Array {
  const ids = new Int32Array(rows.length * length);
  rows.forEach((r, b) => ids.set([SOT, ...r, EOT], b * length));
  return ids;
}

let tf: Tf;
let dir: string;
let onnxPath: string;
let session: ort.InferenceSession;
let weights: TextModelWeights;

beforeAll(async () => {
  tf = (await selectBackend('cpu')).tf;
  dir = await mkdtemp(join(tmpdir(), 'sieve-text-model-'));
  onnxPath = join(dir, 'text_model.onnx');
  const bytes = buildTextModel(SMALL_TEXT, 3, { jitter: 0.1 });
  await writeFile(onnxPath, bytes);
  session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  weights = await loadTextWeightsFromOnnx(onnxPath);
});

afterAll(async () => {
  await session?.release();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function onnxEncode(ids: Int32Array, batch: number): Promise<Float32Array> {
  const input = new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [batch, 77]);
  return (await session.run({ input_ids: input })).text_embeds.data as Float32Array;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('text weights', () => {
  it('reads the config and every weight from the ONNX initializers', () => {
    expect(weights.config).toEqual(SMALL_TEXT);
    expect(weights.layers).toHaveLength(2);
    // The jittered layer norms are not the constants 1 and 0.
    expect(weights.finalLn.weight.some((v) => Math.abs(v - 1) > 1e-3)).toBe(true);
  });

  it('names anonymous MatMul weights after the bias their MatMul output receives', async () => {
    // Rename every .weight initializer of a linear layer as an exporter does (onnx::MatMul_N).
    const onnxProto = (await import('onnx-proto')).default;
    const model = onnxProto.onnx.ModelProto.decode(buildTextModel(SMALL_TEXT, 3, { jitter: 0.1 }));
    let n = 0;
    const renames = new Map<string, string>();
    for (const init of model.graph!.initializer!) {
      if (/(proj|fc\d)\.weight_\d+$/.test(init.name!)) renames.set(init.name!, `onnx::MatMul_${n++}`);
    }
    for (const init of model.graph!.initializer!) init.name = renames.get(init.name!) ?? init.name;
    for (const node of model.graph!.node!) node.input = node.input!.map((i) => renames.get(i) ?? i);
    const read = readOnnxTextWeights(onnxProto.onnx.ModelProto.encode(model).finish());
    const renamed = assembleTextWeights(read.tensors, 'in-out', read.heads, 'renamed');
    expect(renamed.layers[1].q.weight).toEqual(weights.layers[1].q.weight);
    expect(renamed.layers[0].fc2.weight).toEqual(weights.layers[0].fc2.weight);
    expect(renamed.projection).toEqual(weights.projection);
  });

  it('refuses a file without a text model, naming what it has', () => {
    expect(() => assembleTextWeights(new Map(), 'in-out', 4, 'x.onnx')).toThrow(TextWeightsError);
  });
});

describe('ClipTextModel', () => {
  it('equals the ONNX text encoder within 1e-4', async () => {
    const rng = createRng(5, 'prompts');
    const rows = [[10, 20, 30], [7], Array.from({ length: 20 }, () => rng.int(SOT)), [1, 2, 3, 4, 5, 6]];
    const ids = idsOf(rows);
    const expected = await onnxEncode(ids, rows.length);
    const model = new ClipTextModel(tf, weights);
    try {
      expect(maxAbsDiff(model.encodeIds(ids, rows.length, 77), expected)).toBeLessThan(1e-4);
    } finally {
      model.dispose();
    }
  });

  it('loads the same model from a Hugging Face model.safetensors (text_model.*, [out, in] weights)', async () => {
    const t = (data: Float32Array, shape: number[]): Tensor => tensor('float32', shape, data);
    const tr = (data: Float32Array, rows: number, cols: number) => {
      const out = new Float32Array(data.length);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
      return out;
    };
    const { width: w, mlp, embedDim, vocabSize, contextLength } = SMALL_TEXT;
    const named: Record<string, Tensor> = {
      'text_model.embeddings.token_embedding.weight': t(weights.tokenEmbedding, [vocabSize, w]),
      'text_model.embeddings.position_embedding.weight': t(weights.positionEmbedding, [contextLength, w]),
      'text_model.final_layer_norm.weight': t(weights.finalLn.weight, [w]),
      'text_model.final_layer_norm.bias': t(weights.finalLn.bias, [w]),
      'text_projection.weight': t(tr(weights.projection, w, embedDim), [embedDim, w]),
      logit_scale: t(Float32Array.of(Math.log(100)), []),
      'vision_model.post_layernorm.weight': t(new Float32Array(4), [4]),
    };
    weights.layers.forEach((l, i) => {
      const p = `text_model.encoder.layers.${i}`;
      for (const [name, lin, inDim, outDim] of [
        ['self_attn.q_proj', l.q, w, w], ['self_attn.k_proj', l.k, w, w], ['self_attn.v_proj', l.v, w, w],
        ['self_attn.out_proj', l.out, w, w], ['mlp.fc1', l.fc1, w, mlp], ['mlp.fc2', l.fc2, mlp, w],
      ] as const) {
        named[`${p}.${name}.weight`] = t(tr(lin.weight, inDim, outDim), [outDim, inDim]);
        named[`${p}.${name}.bias`] = t(lin.bias, [outDim]);
      }
      for (const [name, n] of [['layer_norm1', l.ln1], ['layer_norm2', l.ln2]] as const) {
        named[`${p}.${name}.weight`] = t(n.weight, [w]);
        named[`${p}.${name}.bias`] = t(n.bias, [w]);
      }
    });
    const path = join(dir, 'model.safetensors');
    await writeFile(path, encodeSafetensors(named));
    const loaded = await loadTextWeightsFromSafetensors(path, { heads: 4 });
    expect(loaded.config).toEqual(SMALL_TEXT);
    expect(loaded.logitScale).toBeCloseTo(100, 3);
    const ids = idsOf([[3, 4, 5], [9]]);
    const model = new ClipTextModel(tf, loaded);
    try {
      expect(maxAbsDiff(model.encodeIds(ids, 2, 77), await onnxEncode(ids, 2))).toBeLessThan(1e-4);
    } finally {
      model.dispose();
    }
  });

  it('computes only up to the longest EOT: later positions change nothing', () => {
    const model = new ClipTextModel(tf, weights);
    try {
      const ids = idsOf([[10, 20], [30]]);
      const eot = eotPositions(ids, 2, 77);
      expect(Array.from(eot)).toEqual([3, 2]);
      const full = tf.tidy(() => model.forwardEmbeddings(model.embedTokens(ids, 2, 77), eot).dataSync() as Float32Array);
      // Garbage after the EOT tokens: the causal mask keeps it out.
      const noisy = Int32Array.from(ids, (v, i) => (i % 77 > 3 ? (i * 7) % 500 : v));
      const again = tf.tidy(() => model.forwardEmbeddings(model.embedTokens(noisy, 2, 77), eot).dataSync() as Float32Array);
      expect(maxAbsDiff(full, again)).toBeLessThan(1e-6);
    } finally {
      model.dispose();
    }
  });

  it('has input-embedding gradients that match central finite differences', () => {
    const model = new ClipTextModel(tf, weights);
    const rng = createRng(9, 'fd');
    const [batch, length, width] = [2, 6, SMALL_TEXT.width];
    const x0 = Float32Array.from({ length: batch * length * width }, () => rng.normal() * 0.05);
    const r = Float32Array.from({ length: batch * SMALL_TEXT.embedDim }, () => rng.normal());
    const eot = Int32Array.of(5, 3);
    const f = (x: tfjs.Tensor) => tf.sum(tf.mul(model.forwardEmbeddings(x as tfjs.Tensor3D, eot), tf.tensor2d(r, [batch, SMALL_TEXT.embedDim]))) as tfjs.Scalar;
    const value = (x: Float32Array) => tf.tidy(() => f(tf.tensor3d(x, [batch, length, width])).dataSync()[0]);
    try {
      const grad = tf.tidy(() => tf.grad(f)(tf.tensor3d(x0, [batch, length, width])).dataSync() as Float32Array);
      // Positions after row 1's EOT (3) cannot influence it; row 0's position 5 is its EOT.
      for (let t = 4; t < length; t++) for (let c = 0; c < width; c++) expect(grad[(length + t) * width + c]).toBe(0);
      // Directional derivatives along random directions, and a few single coordinates.
      for (let trial = 0; trial < 3; trial++) {
        const dir = Float32Array.from(x0, () => rng.normal());
        const eps = 1e-2;
        const plus = value(Float32Array.from(x0, (v, i) => v + eps * dir[i]));
        const minus = value(Float32Array.from(x0, (v, i) => v - eps * dir[i]));
        const numeric = (plus - minus) / (2 * eps);
        const analytic = grad.reduce((s, g, i) => s + g * dir[i], 0);
        expect(Math.abs(numeric - analytic)).toBeLessThan(2e-2 * Math.max(1, Math.abs(analytic)));
      }
      for (const i of [0, 17, 5 * width + 3]) {
        const eps = 1e-2;
        const plus = value(Float32Array.from(x0, (v, j) => (j === i ? v + eps : v)));
        const minus = value(Float32Array.from(x0, (v, j) => (j === i ? v - eps : v)));
        expect(Math.abs((plus - minus) / (2 * eps) - grad[i])).toBeLessThan(2e-2 * Math.max(1, Math.abs(grad[i])));
      }
    } finally {
      model.dispose();
    }
  });

  it('refuses EOT positions outside the input', () => {
    const model = new ClipTextModel(tf, weights);
    try {
      const x = tf.zeros([1, 4, SMALL_TEXT.width]) as tfjs.Tensor3D;
      expect(() => model.forwardEmbeddings(x, Int32Array.of(4))).toThrow(/outside the 4 input positions/);
      x.dispose();
    } finally {
      model.dispose();
    }
  });
});

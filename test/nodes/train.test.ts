import { describe, expect, it } from 'vitest';
import train, { type TrainParams } from '../../src/nodes/train.js';
import { compareTensors } from '../../src/runtime/results/compare.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/runtime/store/safetensors.js';
import { tensor, type Tensor } from '../../src/runtime/tensor.js';
import { portsFor, runsInWorker, type PortValue } from '../../src/runtime/types/node-type.js';
import { gaussianClusters } from '../helpers/clusters.js';
import { isInstalled } from '../helpers/installed.js';
import { nodeHarness } from '../helpers/node-harness.js';

const installed = isInstalled;
/** What `backend: auto` should pick in this environment for an mlp head (linear heads: linalg). */
const autoTfjs = installed('@tensorflow/tfjs-node-gpu') ? 'tfjs-node-gpu' : installed('@tensorflow/tfjs-node') ? 'tfjs-node' : 'wasm';

const harness = nodeHarness(train, 3);
/** Params as the runtime gives them: validated, defaults filled in. */
const validate = harness.isValid;
const params = (overrides: Record<string, unknown> = {}): TrainParams => harness.params(overrides);
const context = (p: TrainParams, inputs: Record<string, PortValue>, seed = 3) => harness.context(p, inputs, seed);

/** K Gaussian clusters in R^D as tensors. */
function clusters(seed: number, k: number, perClass: number, d: number, spread: number): { x: Tensor<'float32'>; y: Tensor<'int32'> } {
  const { x, y, n } = gaussianClusters(seed, k, perClass, d, spread);
  return { x: tensor('float32', [n, d], x), y: tensor('int32', [n], y) };
}

const classes = ['cat', 'dog', 'bird'];
const tr = clusters(1, 3, 30, 8, 0.4);
const te = clusters(2, 3, 20, 8, 0.4);

function argmaxAccuracy(probs: Tensor, labels: Int32Array): number {
  const k = probs.shape[1];
  const p = probs.data as Float32Array;
  let hit = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (p[i * k + c] > p[i * k + best]) best = c;
    if (best === labels[i]) hit++;
  }
  return hit / labels.length;
}

describe('train node', () => {
  it('has a params schema whose defaults are the reference settings', () => {
    const p = params();
    expect(p).toMatchObject({
      head: 'linear', loss: 'ce', q: 0.7, mixup: false, epochs: 20, batch_size: 128, lr: 0.02, momentum: 0.9, weight_decay: 5e-4,
      schedule: 'cosine', mixfix: false, backend: 'auto', bias: true, logit_scale: 1 / 0.07, learn_scale: false,
    });
    expect(validate({ head: 'cosine', backend: 'linalg', logit_scale: 30, learn_scale: true })).toBe(true);
    expect(validate({ logit_scale: 0 })).toBe(false);
    expect(validate({ mixup: { alpha: 1 }, mixfix: { absorb: 0.7, relabel: 0.95 } })).toBe(true);
    expect(validate({ mixup: true })).toBe(false);
    expect(validate({ mixfix: { absorb: 0.7 } })).toBe(false);
    expect(validate({ head: 'svm' })).toBe(false);
    expect(runsInWorker(train)).toBe(true);
  });

  it('declares test_probs only when test_features is connected, and text_features as required for text-init', () => {
    const without = portsFor(train, params(), new Set(['features', 'labels', 'classes']));
    expect(Object.keys(without.outputs).sort()).toEqual(['bias', 'history', 'model', 'train_probs', 'weights']);
    expect(Object.keys(portsFor(train, params({ bias: false }), new Set()).outputs).sort()).toEqual(['history', 'model', 'train_probs', 'weights']);
    expect(without.outputs.weights).toMatchObject({ rank: 2 });
    const withTest = portsFor(train, params({ head: 'mlp' }), new Set(['features', 'labels', 'classes', 'test_features']));
    expect(withTest.outputs.test_probs).toMatchObject({ kind: 'tensor', dtype: 'float32', rank: 2 });
    expect(withTest.outputs.weights).toMatchObject({ rank: 1 });
    expect(portsFor(train, params({ head: 'text-init' }), new Set()).inputs.text_features.optional).toBe(false);
    expect(withTest.inputs.text_features.optional).toBe(true);
  });

  it('trains a linear head, reports the backend and per-epoch progress, predicts on test features', async () => {
    const p = params({ epochs: 8, batch_size: 16, lr: 0.1, bias: false, logit_scale: 1 });
    const { ctx, rec } = context(p, { features: tr.x, labels: tr.y, test_features: te.x, classes });
    const out = await train.run(ctx);
    expect(rec.notes.backend).toBe('linalg');
    expect(rec.logs.some((l) => l.includes('backend linalg'))).toBe(true);
    expect(rec.progress.at(-1)).toEqual([8, 8]);
    expect(rec.progress.length).toBeGreaterThanOrEqual(9);

    const weights = out.weights as Tensor;
    expect(weights.dtype).toBe('float32');
    expect(weights.shape).toEqual([3, 8]);
    expect((out.train_probs as Tensor).shape).toEqual([90, 3]);
    expect((out.test_probs as Tensor).shape).toEqual([60, 3]);
    expect(argmaxAccuracy(out.test_probs as Tensor, te.y.data)).toBeGreaterThanOrEqual(0.95);

    const history = out.history as { backend: string; epochs: { epoch: number; loss: number; accuracy: number; lr: number; set_size: number }[] };
    expect(history.backend).toBe('linalg');
    expect(history.epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(history.epochs[0].lr).toBe(0.1);
    expect(history.epochs.every((e) => e.set_size === 90)).toBe(true);
    expect(out.model).toMatchObject({
      head: 'linear', input_dim: 8, num_classes: 3, size: 24, logit_scale: 1, logit_scale_learned: false, normalize: false,
      layers: [{ weight: { offset: 0, shape: [3, 8] }, bias: null }],
    });
    // Round-trips through safetensors unchanged.
    const decoded = decodeSafetensors(encodeSafetensors({ weights })).tensors.weights;
    expect(decoded.shape).toEqual([3, 8]);
  });

  it('emits a flat mlp vector that the model layout covers exactly; honours mask and weights', async () => {
    const mask = tensor('bool', [90], Uint8Array.from({ length: 90 }, (_, i) => (i < 60 ? 1 : 0)));
    const weights = tensor('float32', [90], new Float32Array(90).fill(1));
    const p = params({ head: 'mlp', hidden: [16, 8], epochs: 3, batch_size: 16, backend: 'cpu', sampler: 'balanced', mixup: { alpha: 1 }, loss: 'gce' });
    const { ctx, rec } = context(p, { features: tr.x, labels: tr.y, mask, weights, classes });
    const out = await train.run(ctx);
    expect(rec.notes.backend).toBe('cpu');
    const model = out.model as { size: number; layers: { weight: { offset: number; shape: number[] }; bias: { offset: number; shape: number[] } }[] };
    expect((out.weights as Tensor).shape).toEqual([model.size]);
    expect(model.size).toBe(8 * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3);
    const last = model.layers.at(-1)!;
    expect(last.bias.offset + last.bias.shape[0]).toBe(model.size);
    const history = out.history as { epochs: { set_size: number }[] };
    expect(history.epochs.map((e) => e.set_size)).toEqual([60, 60, 60]);
  });

  it('text-init with 0 epochs returns the zero-shot head: W = normalised text embedding, logit scale 1/τ', async () => {
    const text = tensor('float32', [3, 1, 8], Float32Array.from({ length: 24 }, (_, i) => (i % 9 === 0 ? 2 : 0)));
    const p = params({ head: 'text-init', epochs: 0, temperature: 0.5, backend: 'cpu' });
    const out = await train.run(context(p, { features: tr.x, labels: tr.y, text_features: text, classes }).ctx);
    const w = (out.weights as Tensor<'float32'>).data;
    // Class 0's embedding is 2·e_0 → W_0 = e_0, s = 1/0.5.
    expect(Array.from(w.subarray(0, 8))).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(out.model).toMatchObject({ head: 'text-init', temperature: 0.5, logit_scale: 2 });
    expect(Array.from((out.bias as Tensor<'float32'>).data)).toEqual([0, 0, 0]);
    expect((out.history as { epochs: unknown[] }).epochs).toEqual([]);
  });

  it('runs MixFix from the mask (initial selection) and the labels (noisy labels)', async () => {
    const mask = tensor('bool', [90], Uint8Array.from({ length: 90 }, (_, i) => (i % 3 === 0 ? 1 : 0)));
    const p = params({ epochs: 4, batch_size: 16, lr: 1, mixfix: { absorb: 0.6, relabel: 0.7 }, backend: 'cpu' });
    const out = await train.run(context(p, { features: tr.x, labels: tr.y, mask, classes }).ctx);
    const epochs = (out.history as { epochs: { set_size: number; mixfix: { total: number; selected: number } }[] }).epochs;
    expect(epochs[0].set_size).toBe(30);
    expect(epochs[0].mixfix.selected).toBe(30);
    for (let e = 1; e < epochs.length; e++) expect(epochs[e].set_size).toBe(epochs[e - 1].mixfix.total);
    expect(epochs.at(-1)!.set_size).toBeGreaterThan(30);
  });

  it('puts the backend that will run, and its version, in its key environment; runs what that environment names', async () => {
    const env = (overrides: Record<string, unknown>) => train.keyEnvironment!(params(overrides));
    expect(await env({})).toEqual({ backend: 'linalg', backend_version: expect.stringMatching(/^1-(simd|scalar)$/) });
    expect(await env({ head: 'cosine' })).toMatchObject({ backend: 'linalg' });
    expect(await env({ head: 'mlp' })).toEqual({ backend: autoTfjs, backend_version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(await env({ backend: 'cpu' })).toEqual({ backend: 'cpu', backend_version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    if (!installed('@tensorflow/tfjs-node')) expect(await env({ backend: 'tensorflow' })).toEqual({ backend: 'tfjs-node', backend_version: 'not installed' });

    // The executor hands the resolved environment to run: a linear head on the environment's cpu
    // backend runs there, and agrees with linalg within float rounding.
    const p = params({ epochs: 3, batch_size: 16, lr: 0.05, mixup: { alpha: 1 } });
    const inputs = { features: tr.x, labels: tr.y, test_features: te.x, classes };
    const onCpu = context(p, inputs);
    const cpuOut = await train.run({ ...onCpu.ctx, environment: { backend: 'cpu', backend_version: 'x' } });
    expect(onCpu.rec.notes.backend).toBe('cpu');
    const linalgOut = await train.run(context(p, inputs).ctx);
    for (const port of ['weights', 'bias', 'train_probs', 'test_probs']) {
      expect(compareTensors(cpuOut[port] as Tensor, linalgOut[port] as Tensor)).toMatchObject({ verdict: expect.stringMatching(/identical|within-tolerance/) });
    }
    await expect(train.run(context(params({ head: 'mlp', backend: 'linalg' }), inputs).ctx)).rejects.toThrow(/head mlp needs a tfjs backend/);
  });

  it('a cosine head with a logit scale is confident where a bias-free unit-scale head stays near uniform', async () => {
    const inputs = { features: tr.x, labels: tr.y, classes };
    const meanConf = async (overrides: Record<string, unknown>) => {
      const out = await train.run(context(params({ epochs: 10, batch_size: 16, ...overrides }), inputs).ctx);
      const probs = (out.train_probs as Tensor<'float32'>).data;
      let sum = 0;
      for (let i = 0; i < 90; i++) sum += Math.max(probs[3 * i], probs[3 * i + 1], probs[3 * i + 2]);
      return { conf: sum / 90, model: out.model as { logit_scale: number; normalize: boolean } };
    };
    const plain = await meanConf({ bias: false, logit_scale: 1 });
    const cosine = await meanConf({ head: 'cosine', learn_scale: true });
    expect(plain.conf).toBeLessThan(0.6);
    expect(cosine.conf).toBeGreaterThan(0.9);
    expect(cosine.model.normalize).toBe(true);
    expect(cosine.model.logit_scale).not.toBe(1 / 0.07); // learned
  });

  it('is deterministic for a seed and changes with it', async () => {
    const p = params({ head: 'mlp', hidden: [8], epochs: 2, batch_size: 16, mixup: { alpha: 1 }, sampler: 'balanced' });
    const run = async (seed: number) => ((await train.run(context(p, { features: tr.x, labels: tr.y, classes }, seed).ctx)).weights as Tensor<'float32'>).data;
    const [a, b, c] = [await run(5), await run(5), await run(6)];
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
  });

  it('fails with the port or parameter named', async () => {
    const run = (p: TrainParams, inputs: Record<string, PortValue>) => train.run(context(p, inputs).ctx);
    await expect(run(params({ head: 'text-init' }), { features: tr.x, labels: tr.y, classes })).rejects.toThrow(/"text_features" is required by head: text-init/);
    await expect(run(params(), { features: tr.x, labels: tensor('int32', [3], new Int32Array(3)), classes })).rejects.toThrow(/"labels" has 3 rows, but features have N = 90/);
    await expect(run(params(), { features: tr.x, labels: tr.y, classes: ['a', 'b'] })).rejects.toThrow(/labels\[2\] = 2 .*outside \[0, 2\)/);
    await expect(run(params(), { features: tr.x, labels: tr.y, classes: 'abc' })).rejects.toThrow(/"classes" must be a non-empty JSON array/);
    if (!installed('@tensorflow/tfjs-node')) {
      await expect(run(params({ backend: 'tensorflow' }), { features: tr.x, labels: tr.y, classes })).rejects.toThrow(/tfjs-node/);
    }
    const text = tensor('float32', [3, 1, 5], new Float32Array(15).fill(1));
    await expect(run(params({ head: 'text-init' }), { features: tr.x, labels: tr.y, classes, text_features: text })).rejects.toThrow(/text_features has shape \[3, 1, 5\], expected \[K = 3, P, D = 8\]/);
  });
});

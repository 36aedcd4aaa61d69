import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend, type Tf } from '../../../src/methods/train/backend.js';
import { fromTensorValues, HeadError, headLayout, headLogits, initHead, logitScaleOf, tensorShapes, textInitWeights, toTensorValues } from '../../../src/methods/train/heads.js';
import { createRng } from '../../../src/random/rng.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend('cpu')).tf;
});

describe('headLayout', () => {
  it('linear heads are one bias-free [K, D] matrix', () => {
    const l = headLayout({ kind: 'linear' }, 5, 3);
    expect(l.layers).toEqual([{ weight: { offset: 0, shape: [3, 5] }, bias: null, activation: 'none' }]);
    expect(l.size).toBe(15);
  });

  it('the linear family lays out W, then the bias, then the learned log-scale; cosine normalises', () => {
    const l = headLayout({ kind: 'cosine', bias: true, logitScale: { init: 20, learn: true } }, 5, 3);
    expect(l.layers).toEqual([{ weight: { offset: 0, shape: [3, 5] }, bias: { offset: 15, shape: [3] }, activation: 'none' }]);
    expect(l).toMatchObject({ normalize: true, logitScale: { init: 20, offset: 18 }, size: 19 });
    const init = initHead({ kind: 'cosine', bias: true, logitScale: { init: 20, learn: true } }, l, createRng(1));
    expect(Array.from(init.subarray(15, 18))).toEqual([0, 0, 0]);
    expect(logitScaleOf(l, init)).toBeCloseTo(20, 5);
    const fixed = headLayout({ kind: 'linear', logitScale: { init: 20, learn: false } }, 5, 3);
    expect(fixed).toMatchObject({ normalize: false, logitScale: { init: 20, offset: null }, size: 15 });
    // text-init starts from CLIP's scale 1/τ and unit rows.
    const text = headLayout({ kind: 'text-init', textFeatures: new Float32Array(15).fill(1), promptsPerClass: 1, temperature: 0.01, logitScale: { init: 3, learn: false } }, 5, 3);
    expect(text.logitScale).toEqual({ init: 100, offset: null });
    expect(() => headLayout({ kind: 'linear', logitScale: { init: 0, learn: false } }, 5, 3)).toThrow(/logit_scale/);
  });

  it('mlp heads lay out weight then bias per layer, ReLU between layers', () => {
    const l = headLayout({ kind: 'mlp', hidden: [4, 2] }, 3, 5);
    expect(l.layers.map((x) => [x.weight.offset, x.weight.shape, x.bias?.offset, x.bias?.shape, x.activation])).toEqual([
      [0, [4, 3], 12, [4], 'relu'],
      [16, [2, 4], 24, [2], 'relu'],
      [26, [5, 2], 36, [5], 'none'],
    ]);
    expect(l.size).toBe(41);
    expect(() => headLayout({ kind: 'mlp', hidden: [0] }, 3, 5)).toThrow(HeadError);
  });
});

describe('initHead', () => {
  it('draws U(±1/√fan_in) from the seed', () => {
    const layout = headLayout({ kind: 'mlp', hidden: [8] }, 16, 4);
    const a = initHead({ kind: 'mlp', hidden: [8] }, layout, createRng(1, 'i'));
    const b = initHead({ kind: 'mlp', hidden: [8] }, layout, createRng(1, 'i'));
    expect(a).toEqual(b);
    const first = a.subarray(0, 8 * 16 + 8);
    expect(Math.max(...first.map(Math.abs))).toBeLessThanOrEqual(0.25);
    expect(Math.max(...first.map(Math.abs))).toBeGreaterThan(0.2);
    const last = a.subarray(8 * 16 + 8);
    expect(Math.max(...last.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(8));
  });

  it('text-init averages the prompts, renormalises and divides by τ', () => {
    // K = 2, P = 2, D = 2: class 0 prompts (1,0), (0,1) → mean (.5,.5) → (1/√2, 1/√2); class 1: (0,2), (0,2) → (0,1).
    const text = Float32Array.from([1, 0, 0, 1, 0, 2, 0, 2]);
    const w = textInitWeights(text, 2, 2, 2, 0.5);
    const s = Math.SQRT1_2 / 0.5;
    expect([...w].map((x) => +x.toFixed(6))).toEqual([s, s, 0, 2].map((x) => +Math.fround(x).toFixed(6)));
    expect(() => textInitWeights(Float32Array.from([0, 0, 1, 1]), 2, 1, 2, 1)).toThrow(/class 0/);
    expect(() => textInitWeights(text, 2, 2, 3, 1)).toThrow(/K·P·D/);
  });
});

describe('headLogits', () => {
  it('computes relu(x·W1ᵀ + b1)·W2ᵀ + b2 for an mlp', () => {
    const layout = headLayout({ kind: 'mlp', hidden: [2] }, 2, 2);
    // W1 = [[1, -1], [2, 0]], b1 = [0, -1], W2 = [[1, 1], [0, -1]], b2 = [0.5, 0]
    const params = Float32Array.from([1, -1, 2, 0, 0, -1, 1, 1, 0, -1, 0.5, 0]);
    const shapes = tensorShapes(layout);
    const tensors = toTensorValues(layout, params).map((v, i) => tf.tensor(v, shapes[i]));
    const x = tf.tensor2d([[1, 2], [3, 1]]);
    const out = headLogits(tf, layout, tensors, x);
    // row 0: h = relu([-1, 2 - 1]) = [0, 1] → [1.5, -1]; row 1: h = relu([2, 5]) = [2, 5] → [7.5, -5]
    expect(Array.from(out.dataSync())).toEqual([1.5, -1, 7.5, -5]);
    tf.dispose([...tensors, x, out]);
  });

  it('back-propagates like a plain matMul through the explicit-transpose dense op', () => {
    const layout = headLayout({ kind: 'mlp', hidden: [3] }, 4, 2);
    const flat = initHead({ kind: 'mlp', hidden: [3] }, layout, createRng(2, 'g'));
    const shapes = tensorShapes(layout);
    const x = tf.tensor2d([[0.5, -1, 2, 0.1], [1, 1, -0.5, 0.3]]);
    const loss = (useHead: boolean) => (...ts: ReturnType<typeof tf.tensor>[]) => {
      if (useHead) return tf.sum(tf.square(headLogits(tf, layout, ts, x)));
      // Reference: torch-style y = x·Wᵀ + b with the transposed-flag matMul.
      const [v1, b1, v2, b2] = ts;
      const h = tf.relu(tf.add(tf.matMul(x, tf.transpose(v1)), b1));
      return tf.sum(tf.square(tf.add(tf.matMul(h, tf.transpose(v2)), b2)));
    };
    const kernels = toTensorValues(layout, flat).map((v, i) => tf.tensor(v, shapes[i]));
    const got = tf.grads(loss(true))(kernels).map((g) => g.dataSync() as Float32Array);
    const weights = [[3, 4], [3], [2, 3], [2]].map((shape, i) => {
      const l = layout.layers[i >> 1];
      const slice = i % 2 === 0 ? l.weight : l.bias!;
      return tf.tensor(flat.slice(slice.offset, slice.offset + shape.reduce((a, b) => a * b, 1)), shape);
    });
    const expected = tf.grads(loss(false))(weights).map((g) => g.dataSync() as Float32Array);
    // Gradients w.r.t. kernels are the transposes of those w.r.t. torch-layout weights.
    const gotFlat = fromTensorValues(layout, got);
    const expectedFlat = new Float32Array(layout.size);
    layout.layers.forEach((l, i) => {
      expectedFlat.set(expected[2 * i], l.weight.offset);
      expectedFlat.set(expected[2 * i + 1], l.bias!.offset);
    });
    for (let i = 0; i < layout.size; i++) expect(gotFlat[i]).toBeCloseTo(expectedFlat[i], 5);
    expect(Math.max(...gotFlat.map(Math.abs))).toBeGreaterThan(0.01);
    tf.dispose([...kernels, ...weights, x]);
  });

  it('toTensorValues and fromTensorValues are inverse; kernels are transposed weights', () => {
    const layout = headLayout({ kind: 'linear' }, 3, 2);
    const flat = Float32Array.from([1, 2, 3, 4, 5, 6]); // W = [[1, 2, 3], [4, 5, 6]]
    const [kernel] = toTensorValues(layout, flat);
    expect(Array.from(kernel)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(fromTensorValues(layout, [kernel])).toEqual(flat);
  });
});

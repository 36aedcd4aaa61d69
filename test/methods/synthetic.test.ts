import { describe, expect, it } from 'vitest';
import { generateSyntheticClip, SyntheticParamError, type SyntheticOptions } from '../../src/methods/synthetic.js';

const BASE: SyntheticOptions = {
  numClasses: 10, dim: 64, trainPerClass: 1000, testPerClass: 200,
  zeroShotAccuracy: 0.7, linearProbeAccuracy: 0.9, lookalikePairs: 2, seed: 1,
};

/** Multinomial logistic regression with a bias, full-batch gradient descent with momentum. */
function trainLogReg(x: Float32Array, y: Int32Array, D: number, K: number, epochs: number, lr: number): Float64Array {
  const N = y.length;
  const W = new Float64Array((D + 1) * K);
  const velocity = new Float64Array(W.length);
  const grad = new Float64Array(W.length);
  const z = new Float64Array(K);
  for (let e = 0; e < epochs; e++) {
    grad.fill(0);
    for (let i = 0; i < N; i++) {
      let max = -Infinity;
      for (let k = 0; k < K; k++) {
        let s = W[D * K + k];
        for (let d = 0; d < D; d++) s += x[i * D + d] * W[d * K + k];
        z[k] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let k = 0; k < K; k++) sum += z[k] = Math.exp(z[k] - max);
      for (let k = 0; k < K; k++) {
        const g = z[k] / sum - (k === y[i] ? 1 : 0);
        for (let d = 0; d < D; d++) grad[d * K + k] += g * x[i * D + d];
        grad[D * K + k] += g;
      }
    }
    for (let j = 0; j < W.length; j++) {
      velocity[j] = 0.9 * velocity[j] - (lr * grad[j]) / N;
      W[j] += velocity[j];
    }
  }
  return W;
}

/** Accuracy of argmax_k (x·W[:, k] + bias[k]), or of argmax_k <x, t_k> when `text` is given. */
function accuracy(x: Float32Array, y: Int32Array, D: number, K: number, score: (row: number, k: number) => number): number {
  let correct = 0;
  for (let i = 0; i < y.length; i++) {
    let best = -Infinity;
    let arg = -1;
    for (let k = 0; k < K; k++) {
      const s = score(i, k);
      if (s > best) {
        best = s;
        arg = k;
      }
    }
    if (arg === y[i]) correct++;
  }
  return correct / y.length;
}

function dot(a: Float32Array, ia: number, b: Float32Array, ib: number, D: number): number {
  let s = 0;
  for (let d = 0; d < D; d++) s += a[ia * D + d] * b[ib * D + d];
  return s;
}

describe('generateSyntheticClip', () => {
  it.each([
    { ...BASE },
    { ...BASE, numClasses: 20, dim: 32, trainPerClass: 500, testPerClass: 100, zeroShotAccuracy: 0.5, linearProbeAccuracy: 0.75, lookalikePairs: 5, seed: 7 },
  ])('reaches the target accuracies on the test split (K=$numClasses, zs=$zeroShotAccuracy, lp=$linearProbeAccuracy)', (o) => {
    const s = generateSyntheticClip(o);
    const { numClasses: K, dim: D } = o;
    expect(s.calibratedLinearProbeAccuracy).toBeCloseTo(o.linearProbeAccuracy, 2);
    expect(s.calibratedZeroShotAccuracy).toBeCloseTo(o.zeroShotAccuracy, 2);
    const test = s.testFeatures.data;
    const zeroShot = accuracy(test, s.testLabels, D, K, (i, k) => dot(test, i, s.textFeatures.data, k, D));
    expect(Math.abs(zeroShot - o.zeroShotAccuracy)).toBeLessThanOrEqual(0.05);
    const W = trainLogReg(s.trainFeatures.data, s.trainLabels, D, K, 100, 20);
    const probe = accuracy(test, s.testLabels, D, K, (i, k) => {
      let v = W[D * K + k];
      for (let d = 0; d < D; d++) v += test[i * D + d] * W[d * K + k];
      return v;
    });
    expect(Math.abs(probe - o.linearProbeAccuracy)).toBeLessThanOrEqual(0.05);
  });

  it('outputs unit vectors with the documented shapes and balanced labels', () => {
    const s = generateSyntheticClip({ ...BASE, trainPerClass: 30, testPerClass: 5 });
    expect(s.trainFeatures.shape).toEqual([300, 64]);
    expect(s.testFeatures.shape).toEqual([50, 64]);
    expect(s.textFeatures.shape).toEqual([10, 1, 64]);
    expect(s.classes).toEqual(Array.from({ length: 10 }, (_, k) => `class_${k}`));
    for (const [t, n] of [[s.trainFeatures.data, 300], [s.textFeatures.data, 10]] as const) {
      for (let i = 0; i < n; i++) expect(dot(t, i, t, i, 64)).toBeCloseTo(1, 5);
    }
    const counts = new Array(10).fill(0);
    for (const l of s.trainLabels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(30));
    expect(Array.from(s.trainLabels.subarray(0, 10))).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]); // shuffled
  });

  it('makes look-alike pairs the main source of confusion', () => {
    const s = generateSyntheticClip({ ...BASE, trainPerClass: 400, testPerClass: 0, lookalikePairs: 2 });
    expect(s.lookalikePairs).toHaveLength(2);
    const pairOf = new Map<number, number>();
    for (const [a, b] of s.lookalikePairs) pairOf.set(a, b).set(b, a);
    const x = s.trainFeatures.data;
    let errors = 0;
    let pairErrors = 0;
    for (let i = 0; i < s.trainLabels.length; i++) {
      let best = -Infinity;
      let arg = -1;
      for (let k = 0; k < 10; k++) {
        const v = dot(x, i, s.textFeatures.data, k, 64);
        if (v > best) [best, arg] = [v, k];
      }
      if (arg !== s.trainLabels[i]) {
        errors++;
        if (pairOf.get(s.trainLabels[i]) === arg) pairErrors++;
      }
    }
    // 4 of 10 classes are paired; their partner is 1 of 9 wrong classes, yet it takes a large share.
    expect(pairErrors / errors).toBeGreaterThan(0.25);
  });

  it('is bit-identical for a seed and different for another', () => {
    const o = { ...BASE, trainPerClass: 50, testPerClass: 10 };
    const a = generateSyntheticClip(o);
    const b = generateSyntheticClip(o);
    const c = generateSyntheticClip({ ...o, seed: 2 });
    const bits = (t: Float32Array): Uint8Array => new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
    expect(bits(a.trainFeatures.data)).toEqual(bits(b.trainFeatures.data));
    expect(bits(a.textFeatures.data)).toEqual(bits(b.textFeatures.data));
    expect(a.trainLabels).toEqual(b.trainLabels);
    expect(bits(a.trainFeatures.data)).not.toEqual(bits(c.trainFeatures.data));
    expect(bits(a.textFeatures.data)).not.toEqual(bits(c.textFeatures.data));
  });

  it('generates 10 classes × 1000 × 64 dims well under a second', () => {
    generateSyntheticClip({ ...BASE, trainPerClass: 100 }); // warm up the JIT
    const start = performance.now();
    generateSyntheticClip({ ...BASE, trainPerClass: 1000, testPerClass: 0 });
    expect(performance.now() - start).toBeLessThan(1000);
  });

  it('refuses impossible targets, naming the param', () => {
    const bad: [Partial<SyntheticOptions>, RegExp][] = [
      [{ zeroShotAccuracy: 0.95 }, /zero_shot_accuracy.*cannot beat/],
      [{ linearProbeAccuracy: 0.05 }, /linear_probe_accuracy must be in \(1\/K, 1\]/],
      [{ lookalikePairs: 6 }, /lookalike_pairs must be an integer in \[0, 5\]/],
      [{ numClasses: 1 }, /num_classes/],
      [{ trainPerClass: 0 }, /train_per_class/],
    ];
    for (const [patch, message] of bad) {
      expect(() => generateSyntheticClip({ ...BASE, ...patch })).toThrow(SyntheticParamError);
      expect(() => generateSyntheticClip({ ...BASE, ...patch })).toThrow(message);
    }
  });
});

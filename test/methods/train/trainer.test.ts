import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mixfix } from '../../../src/methods/mixfix.js';
import { selectBackend, type BackendName, type Tf } from '../../../src/methods/train/backend.js';
import { headLayout } from '../../../src/methods/train/heads.js';
import { argmaxRow, predictProbs, setAccuracy, TrainError, trainClassifier, type TrainData, type TrainOptions } from '../../../src/methods/train/trainer.js';
import { createRng } from '../../../src/random/rng.js';
import { gaussianClusters } from '../../helpers/clusters.js';

const clusters = gaussianClusters;

/** Symmetric noise to one of the K − 1 other classes with probability `rate`. */
function symmetricNoise(y: Int32Array, k: number, rate: number, seed: number): Int32Array {
  const rng = createRng(seed, 'noise');
  return Int32Array.from(y, (v) => (rng.next() < rate ? (v + 1 + rng.int(k - 1)) % k : v));
}

function accuracy(probs: Float32Array, k: number, y: Int32Array): number {
  return setAccuracy(probs, k, y, new Uint8Array(y.length).fill(1));
}

const BASE: TrainOptions = {
  head: { kind: 'linear' }, loss: { kind: 'ce' }, mixup: null, sampler: 'shuffle', epochs: 10, batchSize: 32, lr: 0.1,
  momentum: 0.9, weightDecay: 5e-4, schedule: { kind: 'cosine' }, warmupEpochs: 0, mixfix: null, seed: 1,
};

let tf: Tf;
async function use(name: BackendName): Promise<Tf> {
  tf = (await selectBackend(name)).tf;
  return tf;
}
beforeAll(async () => {
  await use('cpu');
});
afterAll(async () => {
  await use('cpu');
});

describe('trainClassifier', () => {
  it('fits a linearly separable problem (≥ 95% train and test accuracy)', () => {
    const tr = clusters(1, 3, 40, 8, 0.3);
    const te = clusters(2, 3, 40, 8, 0.3);
    const epochs: number[] = [];
    const r = trainClassifier(tf, { features: tr.x, numSamples: tr.n, dim: 8, labels: tr.y, numClasses: 3 }, { ...BASE, onEpoch: (e) => epochs.push(e.epoch) });
    expect(epochs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(r.history.at(-1)!.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(r.history.at(-1)!.loss).toBeLessThan(r.history[0].loss);
    expect(accuracy(predictProbs(tf, r.layout, r.params, te.x, te.n), 3, te.y)).toBeGreaterThanOrEqual(0.95);
    // trainProbs are softmax rows of the final model.
    for (let i = 0; i < 3; i++) expect(r.trainProbs[3 * i] + r.trainProbs[3 * i + 1] + r.trainProbs[3 * i + 2]).toBeCloseTo(1, 5);
  });

  it('fits the same problem with an mlp head, mixup and balanced sampling', () => {
    const tr = clusters(1, 3, 40, 8, 0.3);
    const r = trainClassifier(tf, { features: tr.x, numSamples: tr.n, dim: 8, labels: tr.y, numClasses: 3 }, {
      ...BASE, head: { kind: 'mlp', hidden: [16] }, mixup: { alpha: 1 }, sampler: 'balanced', epochs: 20,
    });
    expect(r.params.length).toBe(headLayout({ kind: 'mlp', hidden: [16] }, 8, 3).size);
    expect(accuracy(r.trainProbs, 3, tr.y)).toBeGreaterThanOrEqual(0.95);
  });

  it('GCE is clearly more robust than CE under 40% symmetric noise', () => {
    const k = 4, d = 16;
    const gaps: number[] = [];
    for (const seed of [1, 2, 3]) {
      const tr = clusters(seed, k, 40, d, 1);
      const te = clusters(seed + 100, k, 100, d, 1);
      const data: TrainData = { features: tr.x, numSamples: tr.n, dim: d, labels: symmetricNoise(tr.y, k, 0.4, seed), numClasses: k };
      const testAcc = (o: Partial<TrainOptions>) => {
        const r = trainClassifier(tf, data, { ...BASE, epochs: 60, weightDecay: 0, seed, ...o });
        return accuracy(predictProbs(tf, r.layout, r.params, te.x, te.n), k, te.y);
      };
      const ce = testAcc({ loss: { kind: 'ce' } });
      const gce = testAcc({ loss: { kind: 'gce', q: 0.7 } });
      expect(gce).toBeGreaterThanOrEqual(ce - 0.01);
      gaps.push(gce - ce);
    }
    expect(gaps.reduce((a, b) => a + b, 0) / gaps.length).toBeGreaterThan(0.05);
  });

  it('text-init starts as zero-shot CLIP: epoch-0 predictions are argmax f·t̄ᵀ', () => {
    const k = 3, p = 2, d = 8;
    const tr = clusters(3, k, 20, d, 0.8);
    const rng = createRng(5, 'text');
    const text = Float32Array.from({ length: k * p * d }, () => rng.normal());
    const data: TrainData = { features: tr.x, numSamples: tr.n, dim: d, labels: tr.y, numClasses: k };
    const r = trainClassifier(tf, data, { ...BASE, epochs: 0, head: { kind: 'text-init', textFeatures: text, promptsPerClass: p, temperature: 0.01 } });
    let zeroShotHits = 0;
    const classEmbedding = (c: number) => {
      const mean = Array.from({ length: d }, (_, j) => (text[c * p * d + j] + text[(c * p + 1) * d + j]) / 2);
      const len = Math.hypot(...mean);
      return mean.map((v) => v / len);
    };
    const t = [0, 1, 2].map(classEmbedding);
    for (let i = 0; i < tr.n; i++) {
      const scores = Float32Array.from(t, (tc) => tc.reduce((s, v, j) => s + v * tr.x[i * d + j], 0));
      const zs = argmaxRow(scores, 0, k);
      expect(argmaxRow(r.trainProbs, i, k)).toBe(zs);
      if (zs === tr.y[i]) zeroShotHits++;
    }
    expect(r.initialAccuracy).toBeCloseTo(zeroShotHits / tr.n, 12);
    expect(r.history).toEqual([]);
  });

  it('MixFix recomputes the training set after every epoch from its own result', () => {
    const k = 3, d = 8;
    const tr = clusters(4, k, 40, d, 0.5);
    const noisy = symmetricNoise(tr.y, k, 0.3, 4);
    // Initial selection: a third of the samples whose noisy label is right.
    const selection = Uint8Array.from(noisy, (v, i) => (v === tr.y[i] && i % 3 === 0 ? 1 : 0));
    const data: TrainData = { features: tr.x, numSamples: tr.n, dim: d, labels: noisy, numClasses: k, trainMask: selection };
    const thresholds = { absorb: 0.6, relabel: 0.7 };
    // A high rate makes the linear head confident enough within a few epochs to pass the thresholds.
    const opts: TrainOptions = { ...BASE, lr: 1, mixfix: thresholds, sampler: 'balanced', mixup: { alpha: 1 } };

    const one = trainClassifier(tf, data, { ...opts, epochs: 1 });
    const expected = mixfix(one.trainProbs, k, noisy, selection, thresholds);
    expect(one.history[0].mixfix).toEqual(expected.counts);

    const many = trainClassifier(tf, data, { ...opts, epochs: 5 });
    const initialSize = selection.reduce((a, b) => a + b, 0);
    expect(many.history[0].setSize).toBe(initialSize);
    for (let e = 1; e < 5; e++) expect(many.history[e].setSize).toBe(many.history[e - 1].mixfix!.total);
    expect(many.history[4].setSize).toBeGreaterThan(2 * initialSize);
    expect(many.history[4].mixfix!.relabelled).toBeGreaterThan(0);
    // The first epoch is the same in both runs, so the same set follows it.
    expect(many.history[0].mixfix).toEqual(expected.counts);
  });

  it('per-sample weights multiply the loss: all-zero weights leave only weight decay; ×2 weights equal ½ lr', () => {
    const tr = clusters(5, 3, 20, 6, 0.5);
    const data: TrainData = { features: tr.x, numSamples: tr.n, dim: 6, labels: tr.y, numClasses: 3 };
    const init = trainClassifier(tf, data, { ...BASE, epochs: 0 }).params;
    const frozen = trainClassifier(tf, { ...data, sampleWeights: new Float32Array(tr.n) }, { ...BASE, weightDecay: 0, epochs: 3 });
    expect(frozen.params).toEqual(init);
    const double = trainClassifier(tf, { ...data, sampleWeights: new Float32Array(tr.n).fill(2) }, { ...BASE, epochs: 3, weightDecay: 0, lr: 0.05 });
    const plain = trainClassifier(tf, data, { ...BASE, epochs: 3, weightDecay: 0, lr: 0.1 });
    for (let i = 0; i < plain.params.length; i++) expect(double.params[i]).toBeCloseTo(plain.params[i], 5);
    expect(frozen.params).not.toEqual(plain.params);
  });

  it('one full-batch step is θ − lr·∇ of the mean CE (checked by hand)', () => {
    const k = 3, d = 4;
    const tr = clusters(6, k, 4, d, 0.5);
    const data: TrainData = { features: tr.x, numSamples: tr.n, dim: d, labels: tr.y, numClasses: k };
    const w0 = trainClassifier(tf, data, { ...BASE, epochs: 0 }).params;
    const w1 = trainClassifier(tf, data, { ...BASE, epochs: 1, batchSize: tr.n, weightDecay: 0 }).params;
    const grad = new Float64Array(k * d);
    for (let i = 0; i < tr.n; i++) {
      const z = [0, 1, 2].map((c) => { let s = 0; for (let j = 0; j < d; j++) s += w0[c * d + j] * tr.x[i * d + j]; return s; });
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const sum = e[0] + e[1] + e[2];
      for (let c = 0; c < k; c++) {
        const g = e[c] / sum - (tr.y[i] === c ? 1 : 0);
        for (let j = 0; j < d; j++) grad[c * d + j] += (g * tr.x[i * d + j]) / tr.n;
      }
    }
    for (let i = 0; i < k * d; i++) expect(w1[i]).toBeCloseTo(w0[i] - BASE.lr * grad[i], 5);
  });

  it('weight decay is torch-style L2 inside momentum SGD (zero-loss case computed by hand)', () => {
    const tr = clusters(7, 3, 8, 4, 0.5);
    const data: TrainData = { features: tr.x, numSamples: tr.n, dim: 4, labels: tr.y, numClasses: 3, sampleWeights: new Float32Array(tr.n) };
    const w0 = trainClassifier(tf, data, { ...BASE, epochs: 0 }).params;
    const [lr, wd, mu] = [0.1, 0.05, 0.9];
    // Two steps at a constant rate: step schedule with gamma 1.
    const w2 = trainClassifier(tf, data, {
      ...BASE, epochs: 1, batchSize: tr.n / 2, lr, weightDecay: wd, momentum: mu, schedule: { kind: 'step', stepSize: 1, gamma: 1 },
    }).params;
    for (let i = 0; i < w0.length; i++) {
      const m1 = wd * w0[i];
      const t1 = w0[i] - lr * m1;
      const m2 = mu * m1 + wd * t1;
      expect(w2[i]).toBeCloseTo(t1 - lr * m2, 6);
    }
    // And it shrinks a trained model's weights.
    const norm = (w: Float32Array) => Math.sqrt(w.reduce((a, b) => a + b * b, 0));
    const plain = { ...data, sampleWeights: undefined };
    const trainedNorm = (weightDecay: number) => norm(trainClassifier(tf, plain, { ...BASE, epochs: 20, weightDecay }).params);
    expect(trainedNorm(0.2)).toBeLessThan(0.8 * trainedNorm(0));
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`is bit-identical for the same seed on ${backend}, and differs for another seed`, async () => {
      const t = await use(backend);
      const tr = clusters(8, 3, 30, 8, 0.7);
      const data: TrainData = { features: tr.x, numSamples: tr.n, dim: 8, labels: symmetricNoise(tr.y, 3, 0.2, 8), numClasses: 3 };
      const opts: TrainOptions = {
        ...BASE, head: { kind: 'mlp', hidden: [12] }, loss: { kind: 'gce', q: 0.7 }, mixup: { alpha: 1 }, sampler: 'balanced', epochs: 4, batchSize: 16,
        mixfix: { absorb: 0.5, relabel: 0.9 }, warmupEpochs: 1,
      };
      const a = trainClassifier(t, data, opts);
      const b = trainClassifier(t, data, opts);
      const c = trainClassifier(t, data, { ...opts, seed: 2 });
      expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
      expect(Buffer.from(a.trainProbs.buffer).equals(Buffer.from(b.trainProbs.buffer))).toBe(true);
      expect(a.history).toEqual(b.history);
      expect(Buffer.from(a.params.buffer).equals(Buffer.from(c.params.buffer))).toBe(false);
      await use('cpu');
    });

    it(`does not leak tensors across epochs on ${backend}`, async () => {
      const t = await use(backend);
      const tr = clusters(9, 3, 30, 8, 0.7);
      const before = t.memory().numTensors;
      const counts: number[] = [];
      trainClassifier(t, { features: tr.x, numSamples: tr.n, dim: 8, labels: tr.y, numClasses: 3 }, {
        ...BASE, head: { kind: 'mlp', hidden: [8] }, mixup: { alpha: 1 }, loss: { kind: 'gce', q: 0.5 }, epochs: 5,
        onEpoch: () => counts.push(t.memory().numTensors),
      });
      expect(new Set(counts).size).toBe(1);
      expect(t.memory().numTensors).toBe(before);
      await use('cpu');
    });
  }

  it('rejects bad input with the offending field named', () => {
    const tr = clusters(1, 3, 4, 2, 0.5);
    const data: TrainData = { features: tr.x, numSamples: tr.n, dim: 2, labels: tr.y, numClasses: 3 };
    expect(() => trainClassifier(tf, { ...data, labels: Int32Array.from(tr.y, () => 3) }, BASE)).toThrow(/labels\[0\] = 3 .*outside \[0, 3\)/);
    expect(() => trainClassifier(tf, { ...data, trainMask: new Uint8Array(tr.n) }, BASE)).toThrow(/empty/);
    expect(() => trainClassifier(tf, { ...data, sampleWeights: new Float32Array(tr.n).fill(-1) }, BASE)).toThrow(/weights\[0\]/);
    expect(() => trainClassifier(tf, data, { ...BASE, batchSize: 0 })).toThrow(TrainError);
    expect(() => trainClassifier(tf, data, { ...BASE, loss: { kind: 'gce', q: 0 } })).toThrow(/q must be/);
    // Labels outside the training set are ignored (e.g. −1 for unlabelled samples).
    const mask = Uint8Array.from(tr.y, (_, i) => (i < 6 ? 1 : 0));
    expect(() => trainClassifier(tf, { ...data, trainMask: mask, labels: Int32Array.from(tr.y, (v, i) => (i < 6 ? v : -1)) }, { ...BASE, epochs: 1 })).not.toThrow();
  });

  it('fails clearly when training diverges', () => {
    const tr = clusters(1, 3, 10, 4, 0.5);
    const huge = Float32Array.from(tr.x, (v) => v * 1e30);
    expect(() => trainClassifier(tf, { features: huge, numSamples: tr.n, dim: 4, labels: tr.y, numClasses: 3 }, { ...BASE, lr: 1e10 })).toThrow(/loss is not finite/);
  });

  it('stops when the signal is aborted', () => {
    const tr = clusters(1, 3, 10, 4, 0.5);
    const controller = new AbortController();
    controller.abort(new Error('stop requested'));
    expect(() => trainClassifier(tf, { features: tr.x, numSamples: tr.n, dim: 4, labels: tr.y, numClasses: 3 }, { ...BASE, signal: controller.signal })).toThrow(/stop requested/);
  });
});

// Transductive CLIP's additions to train: the supervised contrastive term (against a direct
// computation) and the per-epoch ensemble labels.
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend, type Tf } from '../../../src/methods/train/backend.js';
import { ContrastiveError, initialEma, supConLoss } from '../../../src/methods/train/contrastive.js';
import { setAccuracy, TrainError, trainClassifier, type TrainOptions } from '../../../src/methods/train/trainer.js';
import { createRng } from '../../../src/random/rng.js';
import { gaussianClusters } from '../../helpers/clusters.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend('cpu')).tf;
});

const BASE: TrainOptions = {
  head: { kind: 'linear' }, loss: { kind: 'ce' }, mixup: null, sampler: 'shuffle', epochs: 10, batchSize: 32, lr: 0.1,
  momentum: 0.9, weightDecay: 5e-4, schedule: { kind: 'cosine' }, warmupEpochs: 0, mixfix: null, seed: 1,
};

/** L = mean over anchors with positives of −1/|P(i)| Σ_p log softmax_{a≠i}(z_i·z_a/τ)[p]. */
function reference(z: number[][], labels: number[], tau: number): number {
  const unit = z.map((r) => r.map((v) => v / Math.hypot(...r)));
  const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
  let total = 0;
  let anchors = 0;
  unit.forEach((zi, i) => {
    const others = unit.map((_, a) => a).filter((a) => a !== i);
    const positives = others.filter((a) => labels[a] === labels[i]);
    if (positives.length === 0) return;
    const lse = Math.log(others.reduce((s, a) => s + Math.exp(dot(zi, unit[a]) / tau), 0));
    total += -positives.reduce((s, p) => s + dot(zi, unit[p]) / tau - lse, 0) / positives.length;
    anchors++;
  });
  return total / anchors;
}

describe('supervised contrastive term', () => {
  it('equals the direct computation, anchors without positives left out', () => {
    const rng = createRng(3);
    const z = Array.from({ length: 6 }, () => Array.from({ length: 4 }, () => rng.normal()));
    const labels = [0, 1, 0, 2, 1, 0]; // class 2 has a single sample: no positive
    const targets = labels.flatMap((y) => [0, 1, 2].map((c) => (c === y ? 1 : 0)));
    const value = tf.tidy(() => supConLoss(tf, tf.tensor2d(z.flat(), [6, 4]), tf.tensor2d(targets, [6, 3]), 0.5).dataSync()[0]);
    expect(value).toBeCloseTo(reference(z, labels, 0.5), 4);
  });

  it('trains with the term added; weight 0 is the plain loss; bad settings are refused', () => {
    const { x, y, n } = gaussianClusters(1, 3, 30, 8, 0.3);
    const data = { features: x, numSamples: n, dim: 8, labels: y, numClasses: 3 };
    const plain = trainClassifier(tf, data, BASE);
    const zero = trainClassifier(tf, data, { ...BASE, contrastive: { weight: 0, temperature: 0.1 } });
    expect(zero.params).toEqual(plain.params);
    const withTerm = trainClassifier(tf, data, { ...BASE, contrastive: { weight: 0.5, temperature: 0.1 } });
    expect(withTerm.params).not.toEqual(plain.params);
    expect(withTerm.history.at(-1)!.accuracy).toBeGreaterThan(0.9);
    expect(() => trainClassifier(tf, data, { ...BASE, contrastive: { weight: 1, temperature: 0 } })).toThrow(ContrastiveError);
    expect(() => trainClassifier(tf, data, { ...BASE, mixfix: { absorb: 0.8, relabel: 0.8 }, ensembleLabels: { momentum: 0.9 } })).toThrow(TrainError);
  });
});

describe('ensemble labels in train', () => {
  it('moves the training labels towards the EMA of predictions, which corrects noisy labels', () => {
    const { x, y, n } = gaussianClusters(2, 3, 40, 8, 0.3);
    const rng = createRng(5, 'flip');
    const noisy = Int32Array.from(y, (v) => (rng.next() < 0.3 ? (v + 1) % 3 : v));
    const all = new Uint8Array(n).fill(1);
    const r = trainClassifier(tf, { features: x, numSamples: n, dim: 8, labels: noisy, numClasses: 3 }, { ...BASE, epochs: 15, ensembleLabels: { momentum: 0.5 } });
    // The trained head agrees with the true labels better than the noisy labels do.
    expect(setAccuracy(r.trainProbs, 3, y, all)).toBeGreaterThan(setAccuracy(r.trainProbs, 3, noisy, all));
    expect(setAccuracy(r.trainProbs, 3, y, all)).toBeGreaterThan(0.9);
    // The epoch accuracy is measured against the labels that epoch trained on: with ensemble labels
    // they become the model's own (near 100 %); with the fixed noisy labels it stays near 70 %.
    const plain = trainClassifier(tf, { features: x, numSamples: n, dim: 8, labels: noisy, numClasses: 3 }, { ...BASE, epochs: 15 });
    expect(plain.history.at(-1)!.accuracy).toBeLessThan(0.8);
    expect(r.history.at(-1)!.accuracy).toBeGreaterThan(0.95);
    // One-hot start when no initial probabilities are given.
    expect(Array.from(initialEma({ momentum: 0.9 }, Int32Array.of(1, 0), 2))).toEqual([0, 1, 1, 0]);
  });
});

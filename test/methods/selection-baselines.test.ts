import { describe, expect, it } from 'vitest';
import {
  agreementMask, confidentLearning, featureDistanceScores, featureDistanceSelect, knnAgreement, roundRowsPreservingTotals,
  smallLossSelect,
} from '../../src/methods/selection-baselines.js';
import { createRng } from '../../src/random/rng.js';

describe('agreementMask', () => {
  it('keeps samples whose argmax (first on ties) is the given label', () => {
    const probs = Float32Array.from([0.7, 0.3, 0.4, 0.6, 0.5, 0.5, 0.5, 0.5]);
    expect(Array.from(agreementMask(probs, Int32Array.from([0, 0, 0, 1]), 2))).toEqual([1, 0, 1, 0]);
  });
});

describe('smallLossSelect', () => {
  const labels = Int32Array.from([0, 0, 0, 1, 1, 1]);
  // p(given): three confident, three not: losses split into two clear groups.
  const pGiven = [0.95, 0.9, 0.05, 0.92, 0.04, 0.03];
  const probs = new Float32Array(12);
  pGiven.forEach((p, i) => {
    probs[i * 2 + labels[i]] = p;
    probs[i * 2 + 1 - labels[i]] = 1 - p;
  });

  it('keeps the low-loss component of a global GMM on the cross-entropy', () => {
    const r = smallLossSelect(probs, labels, 2);
    expect(r.loss[0]).toBeCloseTo(-Math.log(0.95), 6);
    expect(Array.from(r.mask)).toEqual([1, 1, 0, 1, 0, 0]);
    expect(r.cleanPosterior[0]).toBeGreaterThan(0.99);
    expect(r.cleanPosterior[5]).toBeLessThan(0.01);
  });

  it('per class too, and the threshold moves the cut', () => {
    expect(Array.from(smallLossSelect(probs, labels, 2, { perClass: true }).mask)).toEqual([1, 1, 0, 1, 0, 0]);
    expect(Array.from(smallLossSelect(probs, labels, 2, { threshold: 0 }).mask)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(() => smallLossSelect(probs, labels, 2, { threshold: 2 })).toThrow(/threshold must be in \[0, 1\], got 2/);
  });
});

describe('knnAgreement', () => {
  it('finds cosine neighbours excluding self on a hand-made circle', () => {
    // Points at angles 0°, 10°, 20°, 90°, 100°, 180° (unit vectors in 2-D).
    const angles = [0, 10, 20, 90, 100, 180];
    const data = Float32Array.from(angles.flatMap((a) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)]));
    const labels = Int32Array.from([0, 0, 1, 1, 1, 0]);
    const r = knnAgreement({ data, shape: [6, 2] }, labels, 2, { k: 2, threshold: 0.5 });
    expect(Array.from(r.neighbours)).toEqual([1, 2, 0, 2, 1, 0, 4, 2, 3, 2, 4, 3]);
    // Agreement: 0 → {1:0, 2:1} = .5; 1 → {0,2} = .5; 2 → {1,0} labels 0,0 → 0; 3 → {4,2} = 1; 4 → {3,2} = 1; 5 → {4,3} = 0.
    expect(Array.from(r.agreement)).toEqual([0.5, 0.5, 0, 1, 1, 0]);
    expect(Array.from(r.mask)).toEqual([1, 1, 0, 1, 1, 0]);
  });

  it('equals brute force across block boundaries, with ties to the lower index', () => {
    const n = 1100; // > one column block of 1024 and not a multiple of the 64-row block
    const d = 5;
    const rng = createRng(3, 'knn');
    const data = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      // Every fifth point duplicates the previous one, which creates exact ties.
      for (let q = 0; q < d; q++) data[i * d + q] = i % 5 === 4 ? data[(i - 1) * d + q] : Math.round(rng.normal() * 4) / 4;
    }
    const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
    const k = 4;
    const r = knnAgreement({ data, shape: [n, d] }, labels, 3, { k });
    const norm = (i: number) => Math.hypot(...data.subarray(i * d, (i + 1) * d));
    for (const i of [0, 3, 4, 63, 64, 500, 1023, 1024, 1099]) {
      const sims: Array<[number, number]> = [];
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        let s = 0;
        for (let q = 0; q < d; q++) s += (data[i * d + q] / norm(i)) * (data[j * d + q] / norm(j));
        sims.push([Math.fround(s), j]);
      }
      sims.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
      const got = Array.from(r.neighbours.subarray(i * k, (i + 1) * k));
      // Compare similarities (robust to last-bit rounding), and indices where similarities are distinct.
      got.forEach((j, t) => expect(sims.find(([, idx]) => idx === j)![0]).toBeCloseTo(sims[t][0], 5));
    }
  });

  it('rejects k too large for N', () => {
    expect(() => knnAgreement({ data: new Float32Array(6), shape: [3, 2] }, Int32Array.from([0, 1, 0]), 2, { k: 3 })).toThrow(/k = 3 needs at least 4 samples/);
  });
});

describe('confidentLearning (cleanlab prune_by_noise_rate)', () => {
  // Given labels and (out-of-sample) probabilities; samples 2 and 5 look mislabelled, sample 6 is unsure.
  const labels = Int32Array.from([0, 0, 0, 1, 1, 1, 0]);
  const probs = Float32Array.from([0.9, 0.1, 0.8, 0.2, 0.2, 0.8, 0.1, 0.9, 0.3, 0.7, 0.7, 0.3, 0.45, 0.55]);

  it('follows the hand computation', () => {
    const r = confidentLearning(probs, labels, 2);
    // t_0 = mean p_0 over given 0 = (.9+.8+.2+.45)/4; t_1 = (.9+.7+.3)/3.
    expect(r.thresholds[0]).toBeCloseTo(2.35 / 4, 6);
    expect(r.thresholds[1]).toBeCloseTo(1.9 / 3, 6);
    // Confident: 0,1 → 0; 2 → 1; 3,4 → 1; 5 → 0; 6 is confident in neither. Joint rows (given) [[2,1],[1,2]];
    // calibrated row 0 to 4 samples: [2.67, 1.33] → [3, 1].
    expect(Array.from(r.confidentJoint)).toEqual([3, 1, 1, 2]);
    expect(Array.from(r.pruneCounts)).toEqual([3, 1, 1, 2]);
    // One issue per off-diagonal cell, the largest margin: sample 2 (given 0) and sample 5 (given 1).
    // Sample 6 disagrees with its label but is not pruned: it is not the top margin of its cell.
    expect(Array.from(r.mask)).toEqual([1, 1, 0, 1, 1, 0, 1]);
    expect(r.margin[6]).toBeCloseTo(0.1, 6);
  });

  it('never prunes a class with at most minExamplesPerClass samples, nor a sample whose argmax is its label', () => {
    const r = confidentLearning(probs, labels, 2, { minExamplesPerClass: 3 });
    expect(Array.from(r.mask)).toEqual([1, 1, 0, 1, 1, 1, 1]);
    const agree = confidentLearning(Float32Array.from([0.9, 0.1, 0.6, 0.4, 0.2, 0.8, 0.3, 0.7]), Int32Array.from([0, 0, 1, 1]), 2);
    expect(Array.from(agree.mask)).toEqual([1, 1, 1, 1]);
  });

  it('rounds rows preserving totals: missing units to the most rounded-down, surplus from the most rounded-up', () => {
    expect(Array.from(roundRowsPreservingTotals(Float64Array.from([0.5, 0.5, 1, 1.5, 1.5, 0, 0.2, 0.3, 0.5]), 3))).toEqual([
      1, 0, 1, 1, 2, 0, 0, 0, 1,
    ]);
  });
});

describe('feature distance', () => {
  it('is the mean cosine distance to class-mates, normalised per class', () => {
    // Class 0: a = e1, b = e1, c = e2 → distances .5, .5, 1. Class 1: a single sample → 0.
    const data = Float32Array.from([2, 0, 1, 0, 0, 3, 1, 1]);
    const labels = Int32Array.from([0, 0, 0, 1]);
    const r = featureDistanceScores({ data, shape: [4, 2] }, labels, 2);
    expect(Array.from(r.distance).map((v) => +v.toFixed(6))).toEqual([0.5, 0.5, 1, 0]);
    expect(Array.from(r.score)).toEqual([1, 1, 0, 0]);
    const top = featureDistanceSelect({ data, shape: [4, 2] }, labels, 2, { mode: 'top-fraction', fraction: 0.5 });
    expect(Array.from(top.mask)).toEqual([1, 1, 0, 1]);
  });

  it('GMM mode drops the samples far from their class', () => {
    const rng = createRng(2, 'fd');
    const n = 40;
    const d = 3;
    const data = new Float32Array(n * d);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = i % 2;
      const far = i >= 36; // two outliers per class sit on the other axis
      const axis = far ? 1 - labels[i] : labels[i];
      for (let q = 0; q < d; q++) data[i * d + q] = (q === axis ? 1 : 0) + 0.05 * rng.normal();
    }
    const r = featureDistanceSelect({ data, shape: [n, d] }, labels, 2, { mode: 'gmm' });
    expect(Array.from(r.mask.subarray(36))).toEqual([0, 0, 0, 0]);
    expect(Array.from(r.mask.subarray(0, 36)).every((v) => v === 1)).toBe(true);
  });
});

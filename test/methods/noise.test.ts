import { describe, expect, it } from 'vitest';
import { CIFAR100_FINE_CLASSES, CIFAR10_CLASSES } from '../../src/data/cifar-classes.js';
import {
  cifar100AsymmetricMap, confusionNoise, injectNoise, instanceNoise, NoiseParamError, noiseReport, resolveClassMap,
  symmetricNoise,
} from '../../src/methods/noise.js';
import { createRng } from '../../src/random/rng.js';
import { tensor } from '../../src/runtime/tensor.js';

const K10 = Array.from({ length: 10 }, (_, k) => `c${k}`);
const N = 10000;
/** 1000 samples per class, interleaved. */
const labels10 = Int32Array.from({ length: N }, (_, i) => i % 10);

// The CIFAR-100 fine→coarse table as commonly published (e.g. in many `sparse2coarse` helpers),
// an independent source for the super-class listing in noise.ts.
const COARSE = [
  4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11, 6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14,
  16, 9, 11, 5, 5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17, 10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2,
  10, 0, 1, 16, 12, 9, 13, 15, 13, 16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
];

function flipped(a: Int32Array, b: Int32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe('symmetric noise', () => {
  it('over the K-1 other classes flips exactly round(r·N), uniformly', () => {
    const r = injectNoise(labels10, K10, { model: 'symmetric', rate: 0.4, includeTrueClass: false }, 1);
    expect(r.report.realised_rate).toBe(0.4);
    expect(r.report.expected_rate).toBe(0.4);
    const counts = r.report.transition_counts;
    for (let y = 0; y < 10; y++) {
      for (let k = 0; k < 10; k++) if (k !== y) expect(Math.abs(counts[y][k] - 400 / 9)).toBeLessThan(25);
    }
    for (let i = 0; i < N; i++) expect(r.flipMask[i]).toBe(r.noisyLabels[i] !== labels10[i] ? 1 : 0);
  });

  it('over all K classes keeps about r/K of the picked labels', () => {
    const r = injectNoise(labels10, K10, { model: 'symmetric', rate: 0.4, includeTrueClass: true }, 1);
    expect(r.report.expected_rate).toBeCloseTo(0.36, 10);
    expect(Math.abs(r.report.realised_rate - 0.36)).toBeLessThan(0.01); // 4000 picks, ~400 keep their label
  });

  it('is deterministic per seed', () => {
    const spec = { model: 'symmetric', rate: 0.2, includeTrueClass: false } as const;
    expect(injectNoise(labels10, K10, spec, 5).noisyLabels).toEqual(injectNoise(labels10, K10, spec, 5).noisyLabels);
    expect(injectNoise(labels10, K10, spec, 5).noisyLabels).not.toEqual(injectNoise(labels10, K10, spec, 6).noisyLabels);
    const rng = createRng(3);
    const a = symmetricNoise(labels10, 10, 0, false, rng);
    expect(a.noisyLabels).toEqual(labels10);
    expect(symmetricNoise(labels10, 10, 1, false, createRng(3)).flipMask.every((m) => m === 1)).toBe(true);
  });
});

describe('asymmetric noise', () => {
  it('moves CIFAR-10 labels exactly as the map says and never touches unmapped classes', () => {
    const r = injectNoise(labels10, [...CIFAR10_CLASSES], { model: 'asymmetric', rate: 0.3, map: 'cifar10' }, 2);
    const map: Record<number, number> = { 9: 1, 2: 0, 4: 7, 3: 5, 5: 3 };
    for (let i = 0; i < N; i++) {
      const y = labels10[i];
      if (r.noisyLabels[i] !== y) expect(r.noisyLabels[i]).toBe(map[y]);
    }
    r.report.per_class_realised_rate.forEach((rate, c) => expect(rate).toBe(c in map ? 0.3 : 0));
    expect(r.report.realised_rate).toBe(0.15);
    expect(r.report.transition_matrix[9]![1]).toBeCloseTo(0.3, 10);
    expect(r.report.transition_matrix[9]![9]).toBeCloseTo(0.7, 10);
  });

  it('resolves the CIFAR-10 map by name when the class order differs', () => {
    const shuffled = [...CIFAR10_CLASSES].reverse(); // truck is now 0, automobile 8
    const map = resolveClassMap('cifar10', shuffled);
    expect(map[shuffled.indexOf('truck')]).toBe(shuffled.indexOf('automobile'));
    expect(map[shuffled.indexOf('cat')]).toBe(shuffled.indexOf('dog'));
    expect(map[shuffled.indexOf('frog')]).toBe(-1);
    // Non-CIFAR names: by index.
    expect(Array.from(resolveClassMap('cifar10', K10))).toEqual([-1, -1, 0, 5, 7, 3, -1, -1, -1, 1]);
    expect(() => resolveClassMap('cifar10', ['a', 'b'])).toThrow(/"cifar10" needs 10 classes/);
  });

  it('maps CIFAR-100 fine classes to the next one in their super-class, cyclically', () => {
    const map = cifar100AsymmetricMap();
    for (let f = 0; f < 100; f++) {
      expect(COARSE[map[f]]).toBe(COARSE[f]);
      expect(map[f]).not.toBe(f);
      let g = f;
      for (let step = 0; step < 5; step++) g = map[g];
      expect(g).toBe(f); // a 5-cycle
    }
    // beaver(4) → dolphin(30) → otter(55) → seal(72) → whale(95) → beaver
    expect([map[4], map[30], map[55], map[72], map[95]]).toEqual([30, 55, 72, 95, 4]);
    expect(Array.from(resolveClassMap('cifar100', [...CIFAR100_FINE_CLASSES]))).toEqual(Array.from(map));
  });

  it('accepts a user map by names or indices and refuses unknown or self-mapped classes', () => {
    const map = resolveClassMap({ c1: 'c2', 3: 4, c5: 0 }, K10);
    expect(Array.from(map)).toEqual([-1, 2, -1, 4, -1, 0, -1, -1, -1, -1]);
    expect(() => resolveClassMap({ zebra: 'c1' }, K10)).toThrow(/map: source class "zebra" is not a class name/);
    expect(() => resolveClassMap({ c1: 12 }, K10)).toThrow(/map: target class "12"/);
    expect(() => resolveClassMap({ c1: 'c1' }, K10)).toThrow(/mapped to itself/);
    expect(() => resolveClassMap({ c1: 'c2', 1: 'c3' }, K10)).toThrow(/mapped twice/);
  });

  it('draws from a full transition matrix', () => {
    const K = 3;
    const T = [[0.6, 0.3, 0.1], [0, 1, 0], [0.25, 0.25, 0.5]];
    const labels = Int32Array.from({ length: 9000 }, (_, i) => i % K);
    const r = injectNoise(labels, ['a', 'b', 'c'], { model: 'asymmetric', transition: T }, 4);
    for (let y = 0; y < K; y++) for (let k = 0; k < K; k++) expect(Math.abs(r.report.transition_matrix[y]![k] - T[y][k])).toBeLessThan(0.03);
    expect(r.report.requested_rate).toBeNull();
    expect(r.report.expected_rate).toBeCloseTo((0.4 + 0 + 0.5) / 3, 10);
    expect(() => injectNoise(labels, ['a', 'b', 'c'], { model: 'asymmetric', transition: [[1, 0, 0], [0, 1, 0]] }, 1)).toThrow(/3×3/);
    expect(() => injectNoise(labels, ['a', 'b', 'c'], { model: 'asymmetric', transition: [[1, 0, 0], [0, 1, 0], [0.5, 0.5, 0.1]] }, 1)).toThrow(
      /row 2 sums to 1\.1/,
    );
    expect(() => injectNoise(labels, ['a', 'b', 'c'], { model: 'asymmetric', transition: [[1, 0], [0, 1, 0], [0, 0, 1]] }, 1)).toThrow(/row 0 must have 3/);
  });
});

describe('instance noise', () => {
  const D = 32;
  /** 5000 twin pairs: random unit feature, its twin a tiny perturbation of it, same class. */
  function twins(seed: number): { features: Float32Array; labels: Int32Array } {
    const rng = createRng(seed, 'twins');
    const features = new Float32Array(N * D);
    const labels = new Int32Array(N);
    for (let p = 0; p < N / 2; p++) {
      const y = rng.int(10);
      const f = Array.from({ length: D }, () => rng.normal());
      const g = f.map((v) => v + 0.01 * rng.normal());
      for (const [row, v] of [[2 * p, f], [2 * p + 1, g]] as const) {
        const norm = Math.hypot(...v);
        v.forEach((x, d) => (features[row * D + d] = x / norm));
        labels[row] = y;
      }
    }
    return { features, labels };
  }

  it('realises about the requested rate with per-sample flip rates', () => {
    const { features, labels } = twins(1);
    const r = instanceNoise(labels, 10, 0.3, features, D, createRng(1));
    const mean = r.flipRates.reduce((a, b) => a + b, 0) / N;
    const sd = Math.sqrt(r.flipRates.reduce((a, b) => a + (b - mean) ** 2, 0) / N);
    expect(Math.abs(mean - 0.3)).toBeLessThan(0.01);
    expect(sd).toBeGreaterThan(0.08);
    expect(sd).toBeLessThan(0.11);
    expect(Math.min(...r.flipRates)).toBeGreaterThanOrEqual(0);
    expect(Math.abs(flipped(labels, r.noisyLabels) / N - 0.3)).toBeLessThan(0.02);
    const viaSpec = injectNoise(labels, K10, { model: 'instance', rate: 0.3, features: tensor('float32', [N, D], features) }, 1);
    expect(viaSpec.report.expected_rate).toBeCloseTo(0.3, 1);
    expect(viaSpec.noisyLabels).toEqual(injectNoise(labels, K10, { model: 'instance', rate: 0.3, features: tensor('float32', [N, D], features) }, 1).noisyLabels);
  });

  it('sends look-alike samples to the same wrong class more often than unrelated ones', () => {
    const { features, labels } = twins(2);
    const r = instanceNoise(labels, 10, 0.5, features, D, createRng(2));
    let twinBoth = 0;
    let twinSame = 0;
    for (let p = 0; p < N / 2; p++) {
      const [a, b] = [2 * p, 2 * p + 1];
      if (r.flipMask[a] && r.flipMask[b]) {
        twinBoth++;
        if (r.noisyLabels[a] === r.noisyLabels[b]) twinSame++;
      }
    }
    // Baseline: the first sample of a pair against the first sample of the next pair of the same class.
    let otherBoth = 0;
    let otherSame = 0;
    const lastByClass = new Map<number, number>();
    for (let p = 0; p < N / 2; p++) {
      const a = 2 * p;
      const prev = lastByClass.get(labels[a]);
      if (prev !== undefined && r.flipMask[a] && r.flipMask[prev]) {
        otherBoth++;
        if (r.noisyLabels[a] === r.noisyLabels[prev]) otherSame++;
      }
      lastByClass.set(labels[a], a);
    }
    expect(twinBoth).toBeGreaterThan(500);
    expect(otherBoth).toBeGreaterThan(500);
    expect(twinSame / twinBoth).toBeGreaterThan(1.5 * (otherSame / otherBoth));
  });

  it('needs features of the right shape', () => {
    expect(() => injectNoise(labels10, K10, { model: 'instance', rate: 0.2 }, 1)).toThrow(/needs the features input/);
    expect(() => injectNoise(labels10, K10, { model: 'instance', rate: 0.2, features: tensor('float32', [5, 2], new Float32Array(10)) }, 1)).toThrow(
      /features must be float32 \[10000, D\]/,
    );
  });
});

describe('confusion noise', () => {
  it('gives each picked sample its top wrong zero-shot class', () => {
    const K = 4;
    const labels = Int32Array.from({ length: 1000 }, (_, i) => i % K);
    const probs = new Float32Array(1000 * K);
    for (let i = 0; i < 1000; i++) {
      // True class most likely, then (y + 1 + i % 3) % K, others small.
      const y = labels[i];
      const second = (y + 1 + (i % 3)) % K;
      for (let k = 0; k < K; k++) probs[i * K + k] = k === y ? 0.6 : k === second ? 0.3 : 0.05;
    }
    const r = confusionNoise(labels, K, 0.25, probs, createRng(9));
    expect(flipped(labels, r.noisyLabels)).toBe(250);
    for (let i = 0; i < 1000; i++) if (r.flipMask[i]) expect(r.noisyLabels[i]).toBe((labels[i] + 1 + (i % 3)) % K);
  });

  it('picks the best wrong class even when CLIP already prefers it', () => {
    const probs = Float32Array.from([0.1, 0.7, 0.2]);
    expect(Array.from(confusionNoise(Int32Array.from([0]), 3, 1, probs, createRng(1)).noisyLabels)).toEqual([1]);
    expect(Array.from(confusionNoise(Int32Array.from([1]), 3, 1, probs, createRng(1)).noisyLabels)).toEqual([2]);
  });

  it('needs the zero-shot probabilities', () => {
    expect(() => injectNoise(labels10, K10, { model: 'confusion', rate: 0.2 }, 1)).toThrow(/needs the zeroshot_probs input/);
    expect(() => injectNoise(labels10, K10, { model: 'confusion', rate: 0.2, zeroshotProbs: tensor('float32', [N, 3], new Float32Array(N * 3)) }, 1)).toThrow(
      /zeroshot_probs must be float32 \[10000, 10\]/,
    );
  });
});

describe('validation and report', () => {
  it('refuses rates outside [0, 1] and labels outside the classes', () => {
    for (const rate of [-0.1, 1.5, NaN]) {
      expect(() => injectNoise(labels10, K10, { model: 'symmetric', rate, includeTrueClass: true }, 1)).toThrow(NoiseParamError);
      expect(() => injectNoise(labels10, K10, { model: 'symmetric', rate, includeTrueClass: true }, 1)).toThrow(/rate must be in \[0, 1\]/);
    }
    expect(() => injectNoise(Int32Array.from([0, 10]), K10, { model: 'symmetric', rate: 0.1, includeTrueClass: true }, 1)).toThrow(/labels\[1\] = 10/);
  });

  it('counts and normalises the realised transitions', () => {
    const report = noiseReport('x', Int32Array.from([0, 0, 0, 1]), Int32Array.from([0, 2, 2, 1]), 3, 0.5, 0.5);
    expect(report.realised_rate).toBe(0.5);
    expect(report.num_flipped).toBe(2);
    expect(report.per_class_realised_rate).toEqual([2 / 3, 0, null]);
    expect(report.transition_counts).toEqual([[1, 0, 2], [0, 1, 0], [0, 0, 0]]);
    expect(report.transition_matrix).toEqual([[1 / 3, 0, 2 / 3], [0, 1, 0], null]);
  });
});

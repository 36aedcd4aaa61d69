import { describe, expect, it } from 'vitest';
import { clipCleaner, clipCleanerSelect, refillEmptyClasses } from '../../src/methods/clipcleaner.js';
import { selectionQuality } from '../../src/methods/metrics.js';
import { createRng } from '../../src/random/rng.js';

/** Two-class probabilities from p(given label) per sample. */
function twoClass(pGiven: number[], labels: number[]): Float32Array {
  const out = new Float32Array(pGiven.length * 2);
  pGiven.forEach((p, i) => {
    out[i * 2 + labels[i]] = p;
    out[i * 2 + 1 - labels[i]] = 1 - p;
  });
  return out;
}

const labels = [0, 0, 0, 0, 1, 1, 1, 1];
const y = Int32Array.from(labels);
const zs = twoClass([0.9, 0.85, 0.8, 0.1, 0.95, 0.9, 0.2, 0.15], labels);
const lr = twoClass([0.9, 0.9, 0.3, 0.2, 0.9, 0.85, 0.05, 0.04], labels);

describe('clipCleanerSelect', () => {
  it('computes both scores per source and intersects the four subsets', () => {
    const r = clipCleanerSelect([{ name: 'zeroshot', probs: zs }, { name: 'logreg', probs: lr }], y, 2);
    const [a, b] = r.sources;
    // Loss score: log p(ỹ), min-max within the class (computed from the float32 probabilities).
    const logp = (i: number) => Math.log(zs[i * 2 + labels[i]]);
    for (let i = 0; i < 4; i++) expect(a.lossScore[i]).toBeCloseTo((logp(i) - logp(3)) / (logp(0) - logp(3)), 12);
    for (let i = 4; i < 8; i++) expect(a.lossScore[i]).toBeCloseTo((logp(i) - logp(7)) / (logp(4) - logp(7)), 12);
    expect(a.lossScore[3]).toBe(0);
    expect(a.lossScore[0]).toBe(1);
    // Consistency: p(ỹ)/max_k p(k).
    expect(a.consistency[3]).toBeCloseTo(0.1 / 0.9, 6);
    expect(b.consistency[2]).toBeCloseTo(0.3 / 0.7, 6);
    expect(Array.from(a.gmmMask)).toEqual([1, 1, 1, 0, 1, 1, 0, 0]);
    expect(Array.from(a.consistencyMask)).toEqual([1, 1, 1, 0, 1, 1, 0, 0]);
    expect(Array.from(b.gmmMask)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
    expect(Array.from(b.consistencyMask)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
    expect(Array.from(r.intersection)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
    expect(Array.from(r.mask)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
    expect(r.refilledClasses).toEqual([]);
  });

  it('applies the thresholds with ≥ and supports single-criterion ablations', () => {
    // Consistency-only at 1/3: zeroshot sample 3 (0.1/0.9) and sample 6 (0.2/0.8 = 0.25) drop out.
    const consOnly = clipCleanerSelect([{ name: 'zeroshot', probs: zs }], y, 2, { criteria: ['consistency'], consistencyThreshold: 1 / 3 });
    expect(Array.from(consOnly.mask)).toEqual([1, 1, 1, 0, 1, 1, 0, 0]);
    // A tie with the best class gives consistency exactly 1, which θ_cons = 1 keeps.
    const tied = twoClass([0.5, 0.9, 0.49, 0.9], [0, 0, 1, 1]);
    const exact = clipCleanerSelect([{ name: 'p', probs: tied }], Int32Array.from([0, 0, 1, 1]), 2, { criteria: ['consistency'], consistencyThreshold: 1 });
    expect(Array.from(exact.sources[0].consistencyMask)).toEqual([1, 1, 0, 1]);
    // GMM-only keeps what the zero-shot GMM keeps.
    const gmmOnly = clipCleanerSelect([{ name: 'zeroshot', probs: zs }], y, 2, { criteria: ['gmm'] });
    expect(Array.from(gmmOnly.mask)).toEqual(Array.from(gmmOnly.sources[0].gmmMask));
    expect(() => clipCleanerSelect([{ name: 'p', probs: zs }], y, 2, { criteria: [] })).toThrow(/at least one of gmm, consistency/);
    expect(() => clipCleanerSelect([{ name: 'p', probs: zs.subarray(2) }], y, 2)).toThrow(/source 'p'/);
  });

  it('refills classes left empty with their best samples by the first loss score', () => {
    // θ_cons > 1 empties every class: each gets ⌈N/K²⌉ = 2 samples, best zero-shot loss score first.
    const r = clipCleanerSelect([{ name: 'zeroshot', probs: zs }, { name: 'logreg', probs: lr }], y, 2, { consistencyThreshold: 1.5 });
    expect(Array.from(r.intersection)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(r.refilledClasses).toEqual([0, 1]);
    expect(Array.from(r.mask)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
    expect(Array.from(r.refilled)).toEqual(Array.from(r.mask));
  });
});

describe('refillEmptyClasses', () => {
  const labels3 = Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2]);
  const score = Float64Array.from([0, 0, 0, 0, 0.1, 0.9, 0.5, 0.9, 0.2, 0.3, 0.1, 0.2]);
  it('takes max(⌈N/K²⌉, smallest non-empty class selection) best samples, ties by index', () => {
    const sel = Uint8Array.from([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // class 0 has 3; ⌈12/9⌉ = 2 → 3 (class 2 has only 3)
    const r = refillEmptyClasses(sel, score, labels3, 3);
    expect(r.refilledClasses).toEqual([1, 2]);
    expect(Array.from(r.refilled)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1]);
    expect(Array.from(r.mask)).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1]);
  });
  it('never takes more than the class has, and uses ⌈N/K²⌉ when everything is empty', () => {
    const sel = new Uint8Array(12);
    const r = refillEmptyClasses(sel, score, labels3, 3);
    expect(Array.from(r.mask)).toEqual([1, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1]);
    const big = Uint8Array.from([0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0]); // class 1 has 5 → class 0 takes all 4, class 2 all 3
    const r2 = refillEmptyClasses(big, score, labels3, 3);
    expect(Array.from(r2.mask)).toEqual(new Array(12).fill(1));
  });
});

describe('clipCleaner on synthetic CLIP-like features', () => {
  /** K clusters on the unit sphere; prompts near the class centres; 30 % of labels flipped. */
  function dataset(seed: number) {
    const K = 3, D = 16, perClass = 60, P = 2;
    const rng = createRng(seed, 'clipcleaner-test');
    const centres = Array.from({ length: K }, () => Array.from({ length: D }, () => rng.normal()));
    const n = K * perClass;
    const x = new Float32Array(n * D);
    const truth = new Int32Array(n);
    const noisy = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      truth[i] = i % K;
      let s = 0;
      for (let q = 0; q < D; q++) {
        const v = centres[truth[i]][q] + 0.6 * rng.normal();
        x[i * D + q] = v;
        s += v * v;
      }
      for (let q = 0; q < D; q++) x[i * D + q] /= Math.sqrt(s);
      noisy[i] = rng.next() < 0.3 ? (truth[i] + 1 + rng.int(K - 1)) % K : truth[i];
    }
    const text = new Float32Array(K * P * D);
    for (let c = 0; c < K; c++) {
      for (let p = 0; p < P; p++) {
        let s = 0;
        const off = (c * P + p) * D;
        for (let q = 0; q < D; q++) {
          text[off + q] = centres[c][q] + 0.3 * rng.normal();
          s += text[off + q] ** 2;
        }
        for (let q = 0; q < D; q++) text[off + q] /= Math.sqrt(s);
      }
    }
    return { features: { data: x, shape: [n, D] }, text: { data: text, shape: [K, P, D] }, truth, noisy, K };
  }

  it('keeps mostly clean samples and is deterministic', () => {
    const { features, text, truth, noisy, K } = dataset(1);
    const r = clipCleaner(features, text, noisy, K);
    const q = selectionQuality(r.mask, noisy, truth);
    expect(q.noiseRate).toBeGreaterThan(0.2);
    expect(q.precision).toBeGreaterThan(0.95);
    expect(q.recall).toBeGreaterThan(0.6);
    expect(r.logregFits[0].converged).toBe(true);
    expect(clipCleaner(features, text, noisy, K).mask).toEqual(r.mask);
    const oof = clipCleaner(features, text, noisy, K, { oofFolds: 3, seed: 2 });
    expect(oof.logregFits).toHaveLength(3);
    expect(selectionQuality(oof.mask, noisy, truth).precision).toBeGreaterThan(0.95);
  });

  it('needs text features for the zero-shot source, not for a logreg-only ablation', () => {
    const { features, noisy, K } = dataset(2);
    expect(() => clipCleaner(features, undefined, noisy, K)).toThrow(/needs text features/);
    const r = clipCleaner(features, undefined, noisy, K, { sources: ['logreg'] });
    expect(r.sources.map((s) => s.name)).toEqual(['logreg']);
  });
});

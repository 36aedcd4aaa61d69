import { describe, expect, it } from 'vitest';
import { zeroShotProbs } from '../../src/methods/zeroshot.js';

// Two classes, two prompts each, D = 2. Class 0 prompts: e1 and e2; class 1 prompts: e2 and e2.
const text = { data: Float32Array.from([1, 0, 0, 1, 0, 1, 0, 1]), shape: [2, 2, 2] };
const features = { data: Float32Array.from([1, 0, 0, 1]), shape: [2, 2] };

describe('zeroShotProbs', () => {
  it("sum-exp: s_ik = Σ_p exp(<f, t_kp>/τ), normalised over classes", () => {
    const p = zeroShotProbs(features, text, { aggregation: 'sum-exp', temperature: 1 });
    const e = Math.E;
    // f = e1: s_0 = e + 1, s_1 = 2.  f = e2: s_0 = 1 + e, s_1 = 2e.
    expect(p[0]).toBeCloseTo((e + 1) / (e + 3), 6);
    expect(p[1]).toBeCloseTo(2 / (e + 3), 6);
    expect(p[2]).toBeCloseTo((1 + e) / (1 + 3 * e), 6);
    expect(p[3]).toBeCloseTo((2 * e) / (1 + 3 * e), 6);
  });

  it('mean-embedding: average prompts, renormalise, softmax(<f, t>/τ)', () => {
    const p = zeroShotProbs(features, text, { aggregation: 'mean-embedding', temperature: 0.5 });
    // t_0 = (e1 + e2)/√2, t_1 = e2. f = e1: logits (√½/τ, 0); f = e2: (√½/τ, 1/τ).
    const a = Math.SQRT1_2 / 0.5;
    expect(p[0]).toBeCloseTo(Math.exp(a) / (Math.exp(a) + 1), 6);
    expect(p[2]).toBeCloseTo(Math.exp(a) / (Math.exp(a) + Math.exp(2)), 6);
  });

  it('uses τ = 0.07 (sum-exp) and 0.01 (mean-embedding) by default, without overflow at small τ', () => {
    const sumExp = zeroShotProbs(features, text);
    const explicit = zeroShotProbs(features, text, { aggregation: 'sum-exp', temperature: 0.07 });
    expect(sumExp).toEqual(explicit);
    const clip = zeroShotProbs(features, text, { aggregation: 'mean-embedding' });
    expect(clip).toEqual(zeroShotProbs(features, text, { aggregation: 'mean-embedding', temperature: 0.01 }));
    const tiny = zeroShotProbs(features, text, { temperature: 1e-4 });
    for (const v of tiny) expect(Number.isFinite(v)).toBe(true);
    // exp(1/τ) dominates: class 0 for e1; for e2 class 1 has two maximal prompts against one: p = 2/3.
    expect(tiny[0]).toBeCloseTo(1, 6);
    expect(tiny[3]).toBeCloseTo(2 / 3, 6);
  });

  it('checks shapes', () => {
    expect(() => zeroShotProbs(features, { data: new Float32Array(6), shape: [3, 2] })).toThrow(/3-D \[K, P, D\]/);
    expect(() => zeroShotProbs(features, { data: new Float32Array(6), shape: [1, 2, 3] })).toThrow(/dimension 3, image features have 2/);
    expect(() => zeroShotProbs(features, text, { temperature: 0 })).toThrow(/temperature must be > 0/);
  });
});

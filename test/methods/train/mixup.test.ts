import { describe, expect, it } from 'vitest';
import { MixupError, mixupLambda, sampleBeta, sampleGamma } from '../../../src/methods/train/mixup.js';
import { createRng } from '../../../src/random/rng.js';

function moments(draw: () => number, n: number): { mean: number; variance: number } {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const x = draw();
    s += x;
    s2 += x * x;
  }
  const mean = s / n;
  return { mean, variance: s2 / n - mean * mean };
}

describe('mixup draws', () => {
  it('Gamma(a, 1) has mean and variance a, for a above and below 1', () => {
    for (const a of [0.3, 1, 2.5]) {
      const rng = createRng(7, `gamma${a}`);
      const m = moments(() => sampleGamma(a, rng), 40_000);
      expect(m.mean).toBeCloseTo(a, 1);
      expect(Math.abs(m.variance - a) / a).toBeLessThan(0.06);
    }
  });

  it('Beta(2, 2) has mean 1/2 and variance 1/20', () => {
    const rng = createRng(8, 'beta');
    const m = moments(() => sampleBeta(2, 2, rng), 40_000);
    expect(m.mean).toBeCloseTo(0.5, 2);
    expect(m.variance).toBeCloseTo(0.05, 2);
  });

  it('λ = max(λ, 1 − λ) lies in [0.5, 1]; with α = 1 it is uniform there (mean 0.75)', () => {
    const rng = createRng(9, 'lambda');
    const draws = Array.from({ length: 20_000 }, () => mixupLambda(1, rng));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...draws)).toBeLessThanOrEqual(1);
    expect(draws.reduce((a, b) => a + b, 0) / draws.length).toBeCloseTo(0.75, 2);
  });

  it('is seeded and rejects α ≤ 0', () => {
    const r1 = createRng(1, 'm');
    const r2 = createRng(1, 'm');
    expect([mixupLambda(0.4, r1), mixupLambda(0.4, r1)]).toEqual([mixupLambda(0.4, r2), mixupLambda(0.4, r2)]);
    expect(() => mixupLambda(0, r1)).toThrow(MixupError);
  });
});

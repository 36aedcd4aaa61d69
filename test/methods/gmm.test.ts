import { describe, expect, it } from 'vitest';
import { fitGmm1d, minMaxWithinClass, perClassGmm } from '../../src/methods/gmm.js';

describe('fitGmm1d', () => {
  it('recovers the two modes of a clearly bimodal sample', () => {
    // Two tight clusters: {0, 1, 2} and {10, 11, 12}. EM keeps the k-means split, so the fit is the
    // per-cluster mean (1, 11), variance (2/3 + reg) and weight (1/2).
    const values = [10, 0, 11, 1, 12, 2];
    const fit = fitGmm1d(values, { tol: 1e-10 });
    const lo = 1 - fit.high;
    expect(fit.means[fit.high]).toBeCloseTo(11, 9);
    expect(fit.means[lo]).toBeCloseTo(1, 9);
    expect(fit.variances[fit.high]).toBeCloseTo(2 / 3 + 1e-6, 9);
    expect(fit.variances[lo]).toBeCloseTo(2 / 3 + 1e-6, 9);
    expect(fit.weights[0]).toBeCloseTo(0.5, 9);
    expect(fit.converged).toBe(true);
    expect(Array.from(fit.posteriorHigh, (p) => Math.round(p))).toEqual([1, 0, 1, 0, 1, 0]);
    expect(fit.posteriorHigh[1]).toBeLessThan(1e-20);
  });

  it('posteriors follow Bayes rule at the fitted parameters', () => {
    const values = [0.1, 0.15, 0.2, 0.22, 0.3, 0.5, 0.55, 0.6, 0.62, 0.7, 0.72, 0.9];
    const fit = fitGmm1d(values);
    const dens = (x: number, c: number) =>
      (fit.weights[c] * Math.exp((-0.5 * (x - fit.means[c]) ** 2) / fit.variances[c])) / Math.sqrt(2 * Math.PI * fit.variances[c]);
    values.forEach((x, i) => {
      const hi = dens(x, fit.high);
      const lo = dens(x, 1 - fit.high);
      expect(fit.posteriorHigh[i]).toBeCloseTo(hi / (hi + lo), 12);
    });
    expect(fit.means[fit.high]).toBeGreaterThan(fit.means[1 - fit.high]);
  });

  it('adds the variance floor, so identical points in one component stay finite', () => {
    const fit = fitGmm1d([0, 0, 0, 5, 5, 5], { regCovar: 1e-3 });
    expect(fit.variances[0]).toBeCloseTo(1e-3, 12);
    expect(fit.variances[1]).toBeCloseTo(1e-3, 12);
    expect(Array.from(fit.posteriorHigh)).toEqual([0, 0, 0, 1, 1, 1]);
  });

  it('is degenerate (keep everything) with fewer than two distinct values', () => {
    for (const values of [[], [3], [2, 2, 2]]) {
      const fit = fitGmm1d(values);
      expect(fit.degenerate).toBe(true);
      expect(Array.from(fit.posteriorHigh)).toEqual(values.map(() => 1));
    }
  });

  it('stops at maxIter and rejects non-finite input', () => {
    const values = Array.from({ length: 40 }, (_, i) => Math.sin(i) + (i % 2) * 0.5);
    const fit = fitGmm1d(values, { maxIter: 1, tol: 0 });
    expect(fit.iterations).toBe(1);
    expect(fit.converged).toBe(false);
    expect(() => fitGmm1d([0, Number.NaN])).toThrow(/input\[1\] is not finite/);
    expect(() => fitGmm1d([0, 1], { maxIter: 0 })).toThrow(/maxIter must be a positive integer/);
  });
});

describe('per-class normalisation and GMM', () => {
  it('min-max normalises within each class', () => {
    const labels = Int32Array.from([0, 1, 0, 1, 0, 2]);
    const out = minMaxWithinClass([2, -1, 4, 3, 3, 7], labels, 3);
    expect(Array.from(out)).toEqual([0, 0, 1, 1, 0.5, 0]);
  });

  it('fits one mixture per class on the normalised scores', () => {
    // Class 0: two modes; class 1: two modes at a different scale (normalisation makes them comparable).
    const scores = [0, 0.1, 0.9, 1, 100, 110, 190, 200];
    const labels = Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1]);
    const r = perClassGmm(scores, labels, 3);
    expect(Array.from(r.posteriorHigh, Math.round)).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
    expect(r.fits[2]).toBeNull();
    expect(r.fits[0]!.means[0]).toBeCloseTo(0.05, 6);
    expect(r.fits[0]!.means[1]).toBeCloseTo(0.95, 6);
  });
});

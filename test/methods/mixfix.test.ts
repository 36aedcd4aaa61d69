import { describe, expect, it } from 'vitest';
import { mixfix } from '../../src/methods/mixfix.js';

describe('mixfix', () => {
  // K = 3, θ_absorb = 0.7, θ_relabel = 0.8. One sample per branch (rows are q_i):
  //   0 selected, agrees (0.9)                   → stays, label 0
  //   1 selected, disagrees at exactly θ_relabel → relabelled 1 → 2 (a selected sample relabelled)
  //   2 unselected, agrees at exactly θ_absorb   → absorbed, label 2
  //   3 unselected, agrees below θ_absorb        → left out
  //   4 unselected, disagrees below θ_relabel    → left out, label kept
  //   5 unselected, disagrees above θ_relabel    → relabelled 2 → 0, joins
  const probs = Float32Array.from([
    0.9, 0.05, 0.05,
    0.1, 0.1, 0.8,
    0.2, 0.1, 0.7,
    0.6, 0.3, 0.1,
    0.79, 0.2, 0.01,
    0.95, 0.03, 0.02,
  ]);
  const noisy = Int32Array.from([0, 1, 2, 0, 1, 2]);
  const selection = Uint8Array.from([1, 1, 0, 0, 0, 0]);
  // Float32 thresholds so "exactly at the threshold" compares equal values.
  const thresholds = { absorb: Math.fround(0.7), relabel: Math.fround(0.8) };

  it('covers absorb, relabel (selected or not), and the ≥ boundaries', () => {
    const r = mixfix(probs, 3, noisy, selection, thresholds);
    expect(Array.from(r.labels)).toEqual([0, 2, 2, 0, 1, 0]);
    expect(Array.from(r.absorbed)).toEqual([0, 0, 1, 0, 0, 0]);
    expect(Array.from(r.relabelled)).toEqual([0, 1, 0, 0, 0, 1]);
    expect(Array.from(r.trainMask)).toEqual([1, 1, 1, 0, 0, 1]);
    expect(r.counts).toEqual({ selected: 2, absorbed: 1, relabelled: 2, total: 4 });
  });

  it('keeps a selected sample whose confident-enough disagreement is below θ_relabel', () => {
    const r = mixfix(Float32Array.from([0.3, 0.7]), 2, Int32Array.from([0]), Uint8Array.from([1]), { absorb: 0.5, relabel: 0.8 });
    expect(Array.from(r.labels)).toEqual([0]);
    expect(Array.from(r.trainMask)).toEqual([1]);
    expect(r.counts).toEqual({ selected: 1, absorbed: 0, relabelled: 0, total: 1 });
  });

  it('is computed afresh from its inputs, which it does not modify', () => {
    const before = Int32Array.from(noisy);
    const first = mixfix(probs, 3, noisy, selection, thresholds);
    const second = mixfix(probs, 3, noisy, selection, thresholds);
    expect(noisy).toEqual(before);
    expect(second).toEqual(first);
    expect(first.labels).not.toBe(noisy);
  });

  it('checks its inputs', () => {
    expect(() => mixfix(probs.subarray(3), 3, noisy, selection, thresholds)).toThrow(/probabilities has 15 values, expected N\*K/);
    expect(() => mixfix(probs, 3, noisy, selection.subarray(1), thresholds)).toThrow(/initial selection has length 5, expected 6/);
    expect(() => mixfix(probs, 3, noisy, selection, { absorb: Number.NaN, relabel: 0.8 })).toThrow(/threshold absorb/);
  });
});

import { describe, expect, it } from 'vitest';
import { proportionalQuotas, stratifiedHoldout, stratifiedSubsample, takeLabels, takeRows } from '../../src/data/split.js';
import { createRng } from '../../src/random/rng.js';
import { tensor } from '../../src/runtime/tensor.js';

function counts(labels: Int32Array, indices: Int32Array): Map<number, number> {
  const m = new Map<number, number>();
  for (const i of indices) m.set(labels[i], (m.get(labels[i]) ?? 0) + 1);
  return m;
}

// 60 of class 0, 30 of class 1, 10 of class 2, interleaved.
const labels = Int32Array.from({ length: 100 }, (_, i) => (i % 10 < 6 ? 0 : i % 10 < 9 ? 1 : 2));

describe('proportionalQuotas', () => {
  it('uses the largest remainders and never exceeds a class', () => {
    // 10 of 100 split 60/30/10 → 6/3/1 exactly; 7 → 4.2/2.1/0.7 → 4/2/1.
    expect([...proportionalQuotas(new Map([[0, 60], [1, 30], [2, 10]]), 10)]).toEqual([[0, 6], [1, 3], [2, 1]]);
    expect([...proportionalQuotas(new Map([[0, 60], [1, 30], [2, 10]]), 7)]).toEqual([[0, 4], [1, 2], [2, 1]]);
    // Ties go to the lower class index.
    expect([...proportionalQuotas(new Map([[0, 1], [1, 1], [2, 1]]), 2)]).toEqual([[0, 1], [1, 1], [2, 0]]);
  });
});

describe('stratifiedSubsample', () => {
  it('keeps class proportions, sorted, seeded', () => {
    const a = stratifiedSubsample(labels, 20, createRng(1, 's'));
    expect(a.length).toBe(20);
    expect([...counts(labels, a)].sort()).toEqual([[0, 12], [1, 6], [2, 2]]);
    expect(Array.from(a)).toEqual(Array.from(a).sort((x, y) => x - y));
    expect(new Set(a).size).toBe(20);
    expect(stratifiedSubsample(labels, 20, createRng(1, 's'))).toEqual(a);
    expect(Array.from(stratifiedSubsample(labels, 20, createRng(2, 's')))).not.toEqual(Array.from(a));
  });

  it('returns everything when the split is small enough', () => {
    expect(Array.from(stratifiedSubsample(labels, 500, createRng(1)))).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(() => stratifiedSubsample(labels, 0, createRng(1))).toThrow(/positive integer/);
  });
});

describe('stratifiedHoldout', () => {
  it('moves round(f·N) samples, stratified, disjoint from the kept ones', () => {
    const { keep, holdout } = stratifiedHoldout(labels, 0.25, createRng(3));
    expect(holdout.length).toBe(25);
    expect(keep.length).toBe(75);
    expect(new Set([...keep, ...holdout]).size).toBe(100);
    const c = counts(labels, holdout);
    expect(c.get(0)).toBe(15);
    expect(c.get(1)).toBeGreaterThanOrEqual(7);
    expect(c.get(2)).toBeGreaterThanOrEqual(2);
    expect(() => stratifiedHoldout(labels, 1, createRng(3))).toThrow(/\[0, 1\)/);
  });
});

describe('takeRows', () => {
  it('gathers rows of any rank', () => {
    const t = tensor('uint8', [3, 2, 2], Uint8Array.from({ length: 12 }, (_, i) => i));
    const r = takeRows(t, Int32Array.from([2, 0]));
    expect(r.shape).toEqual([2, 2, 2]);
    expect(Array.from(r.data)).toEqual([8, 9, 10, 11, 0, 1, 2, 3]);
    expect(Array.from(takeLabels(Int32Array.from([5, 6, 7]), Int32Array.from([1, 1])))).toEqual([6, 6]);
  });
});

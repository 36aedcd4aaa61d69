import { describe, expect, it } from 'vitest';
import { emaUpdate, ensembleLabels } from '../../src/methods/ensemble-labels.js';

describe('ensemble labels', () => {
  const init = Float32Array.from([0.6, 0.4, 0.2, 0.8]);
  const round = Float32Array.from([0, 1, 1, 0]);

  it('EMA from the zero-shot start: m = 0.5 flips sample 0 after one round', () => {
    const r = ensembleLabels(init, [round], 2, 0.5);
    expect(Array.from(r.ema)).toEqual([0.3, 0.7, 0.6, 0.4].map(Math.fround));
    expect(Array.from(r.labels)).toEqual([1, 0]);
  });

  it('m = 0.9 needs two rounds: 0.6 → 0.54 → 0.486', () => {
    const one = ensembleLabels(init, [round], 2, 0.9);
    expect(one.ema[0]).toBeCloseTo(0.54, 6);
    expect(Array.from(one.labels)).toEqual([0, 1]);
    const two = ensembleLabels(init, [round, round], 2, 0.9);
    expect(two.ema[0]).toBeCloseTo(0.486, 6);
    expect(two.ema[2]).toBeCloseTo(0.352, 6); // 0.2 → 0.9·0.2 + 0.1 = 0.28 → 0.9·0.28 + 0.1
    expect(Array.from(two.labels)).toEqual([1, 1]);
  });

  it('the sequence equals repeated single steps; no rounds returns the start', () => {
    const step = emaUpdate(emaUpdate(init, round, 2, 0.7).ema, round, 2, 0.7);
    expect(ensembleLabels(init, [round, round], 2, 0.7)).toEqual(step);
    const none = ensembleLabels(init, [], 2, 0.7);
    expect(Array.from(none.ema)).toEqual(Array.from(init));
    expect(Array.from(none.labels)).toEqual([0, 1]);
  });

  it('checks momentum and shapes', () => {
    expect(() => emaUpdate(init, round, 2, 1.5)).toThrow(/momentum must be in \[0, 1\], got 1.5/);
    expect(() => emaUpdate(init, round.subarray(2), 2, 0.5)).toThrow(/previous EMA has 4 values, predictions have 2/);
  });
});

import { describe, expect, it } from 'vitest';
import { epochOrder } from '../../../src/methods/train/sampler.js';
import { createRng } from '../../../src/random/rng.js';

// 90 samples of class 0, 10 of class 1, 0 of class 2; only the even indices are in the set.
const labels = Int32Array.from({ length: 200 }, (_, i) => (i % 100 < 90 ? 0 : 1));
const members = Int32Array.from({ length: 100 }, (_, j) => 2 * j);

describe('epochOrder', () => {
  it('shuffle visits every member exactly once', () => {
    const order = epochOrder(members, labels, 3, 'shuffle', createRng(1, 's'));
    expect([...order].sort((a, b) => a - b)).toEqual([...members]);
    expect([...order]).not.toEqual([...members]);
  });

  it('balanced draws as many samples as the set holds, from the set, equally per present class', () => {
    const rng = createRng(2, 's');
    const perClass = [0, 0, 0];
    let draws = 0;
    for (let epoch = 0; epoch < 50; epoch++) {
      const order = epochOrder(members, labels, 3, 'balanced', rng);
      expect(order.length).toBe(members.length);
      for (const i of order) {
        expect(i % 2).toBe(0);
        perClass[labels[i]]++;
        draws++;
      }
    }
    // The set holds 45 + 5 + ... of classes 0/1 (even indices); each class gets ~half the draws.
    expect(perClass[2]).toBe(0);
    expect(perClass[1] / draws).toBeGreaterThan(0.45);
    expect(perClass[1] / draws).toBeLessThan(0.55);
  });

  it('is a function of the seed', () => {
    const a = epochOrder(members, labels, 3, 'balanced', createRng(3, 's'));
    const b = epochOrder(members, labels, 3, 'balanced', createRng(3, 's'));
    const c = epochOrder(members, labels, 3, 'balanced', createRng(4, 's'));
    expect([...a]).toEqual([...b]);
    expect([...a]).not.toEqual([...c]);
  });
});

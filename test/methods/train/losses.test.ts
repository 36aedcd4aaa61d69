import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend, type Tf } from '../../../src/methods/train/backend.js';
import { checkLoss, LossError, perSampleLoss, type LossConfig } from '../../../src/methods/train/losses.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend('cpu')).tf;
});

function losses(logits: number[][], targets: number[][], loss: LossConfig): number[] {
  return tf.tidy(() => Array.from(perSampleLoss(tf, tf.tensor2d(logits), tf.tensor2d(targets), loss).dataSync()));
}

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

const logits = [[2, 0, -1], [0.1, 0.2, 3]];
const oneHot = [[1, 0, 0], [1, 0, 0]];

describe('perSampleLoss', () => {
  it('CE is −log p(y)', () => {
    const expected = logits.map((z) => -Math.log(softmax(z)[0]));
    losses(logits, oneHot, { kind: 'ce' }).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
  });

  it('GCE is (1 − p(y)^q)/q; q = 1 gives 1 − p(y)', () => {
    for (const q of [0.7, 1]) {
      const expected = logits.map((z) => (1 - softmax(z)[0] ** q) / q);
      losses(logits, oneHot, { kind: 'gce', q }).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    }
  });

  it('GCE approaches CE as q → 0', () => {
    const ce = losses(logits, oneHot, { kind: 'ce' });
    const gap = (q: number) => Math.max(...losses(logits, oneHot, { kind: 'gce', q }).map((v, i) => Math.abs(v - ce[i])));
    expect(gap(1e-2)).toBeLessThan(0.1);
    expect(gap(1e-4)).toBeLessThan(1e-3);
    expect(gap(1e-4)).toBeLessThan(gap(1e-2) / 10);
  });

  it('soft targets give the λ-weighted sum of the per-label losses (CE and GCE)', () => {
    const soft = [[0.7, 0.3, 0], [0, 0.6, 0.4]];
    for (const loss of [{ kind: 'ce' }, { kind: 'gce', q: 0.7 }] as LossConfig[]) {
      const perLabel = (k: number) => losses(logits, logits.map(() => [0, 1, 2].map((j) => (j === k ? 1 : 0))), loss);
      const l0 = perLabel(0), l1 = perLabel(1), l2 = perLabel(2);
      const got = losses(logits, soft, loss);
      expect(got[0]).toBeCloseTo(0.7 * l0[0] + 0.3 * l1[0], 5);
      expect(got[1]).toBeCloseTo(0.6 * l1[1] + 0.4 * l2[1], 5);
    }
  });

  it('rejects q outside (0, 1]', () => {
    expect(() => checkLoss({ kind: 'gce', q: 0 })).toThrow(LossError);
    expect(() => checkLoss({ kind: 'gce', q: 1.5 })).toThrow(/q must be in/);
  });
});

import { describe, expect, it } from 'vitest';
import { headLayout, initHead, type HeadConfig } from '../../../src/methods/train/heads.js';
import { LinearHeadEngine, linearHeadFlavour, predictLinearHead, trainLinearHead } from '../../../src/methods/train/linear-head.js';
import { rowLossGrad, type LossConfig } from '../../../src/methods/train/losses.js';
import { runTraining, TrainError, type TrainOptions } from '../../../src/methods/train/trainer.js';
import { createRng } from '../../../src/random/rng.js';
import { gaussianClusters } from '../../helpers/clusters.js';

const BASE: TrainOptions = {
  head: { kind: 'cosine', bias: true, logitScale: { init: 1 / 0.07, learn: true } }, loss: { kind: 'gce', q: 0.7 }, mixup: { alpha: 1 },
  sampler: 'balanced', epochs: 4, batchSize: 24, lr: 0.05, momentum: 0.9, weightDecay: 5e-4, schedule: { kind: 'cosine' }, warmupEpochs: 0, mixfix: null, seed: 3,
};

describe('rowLossGrad', () => {
  for (const loss of [{ kind: 'ce' }, { kind: 'gce', q: 0.7 }] as LossConfig[]) {
    it(`${loss.kind}: the gradient matches central differences of the loss, on a soft target`, () => {
      const z = Float64Array.from([0.3, -1.2, 2.0, 0.1]);
      const y = Float32Array.from([0.7, 0, 0.3, 0]);
      const g = new Float64Array(4);
      rowLossGrad(z, 0, y, 0, 4, loss, g, 0);
      const scratch = new Float64Array(4);
      for (let c = 0; c < 4; c++) {
        const h = 1e-6;
        const up = Float64Array.from(z); up[c] += h;
        const down = Float64Array.from(z); down[c] -= h;
        const numeric = (rowLossGrad(up, 0, y, 0, 4, loss, scratch, 0) - rowLossGrad(down, 0, y, 0, 4, loss, scratch, 0)) / (2 * h);
        expect(g[c]).toBeCloseTo(numeric, 6);
      }
    });
  }
});

describe('LinearHeadEngine', () => {
  const tr = gaussianClusters(4, 5, 30, 10, 0.5);
  const data = { features: tr.x, numSamples: tr.n, dim: 10, labels: tr.y, numClasses: 5 };

  it('the SIMD kernel and the float64 fallback agree within float rounding', () => {
    const simd = runTraining(data, BASE, (layout, init) => new LinearHeadEngine(layout, init, { loss: BASE.loss, momentum: 0.9, weightDecay: 5e-4 }, 24, true));
    const scalar = runTraining(data, BASE, (layout, init) => new LinearHeadEngine(layout, init, { loss: BASE.loss, momentum: 0.9, weightDecay: 5e-4 }, 24, false));
    let max = 0;
    for (let i = 0; i < simd.params.length; i++) max = Math.max(max, Math.abs(simd.params[i] - scalar.params[i]));
    expect(max).toBeLessThan(1e-5);
    expect(max).toBeGreaterThan(0); // float32 SIMD sums vs float64: not bit-equal, hence the flavour in the key
    expect(['simd', 'scalar']).toContain(linearHeadFlavour());
  });

  it('predicts what training reported, on odd sizes (padding), and learns the clusters', () => {
    const r = trainLinearHead(data, { ...BASE, batchSize: 7 });
    expect(predictLinearHead(r.layout, r.params, tr.x, tr.n)).toEqual(r.trainProbs);
    expect(r.history.at(-1)!.accuracy).toBeGreaterThan(0.95);
  });

  it('a second thread predicts half of a large set, bit-identical to one thread', () => {
    const big = gaussianClusters(9, 3, 6000, 8, 0.5);
    const bigData = { features: big.x, numSamples: big.n, dim: 8, labels: big.y, numClasses: 3 };
    const opts = { ...BASE, epochs: 2, batchSize: 512 };
    const one = trainLinearHead(bigData, opts, 1);
    const two = trainLinearHead(bigData, opts, 2);
    expect(big.n).toBeGreaterThan(16384);
    expect(Buffer.from(two.trainProbs.buffer).equals(Buffer.from(one.trainProbs.buffer))).toBe(true);
    expect(Buffer.from(two.params.buffer).equals(Buffer.from(one.params.buffer))).toBe(true);
    expect(two.history).toEqual(one.history);
  }, 60_000);

  it('refuses mlp heads and mismatched vectors', () => {
    const mlp: HeadConfig = { kind: 'mlp', hidden: [4] };
    const layout = headLayout(mlp, 10, 5);
    expect(() => new LinearHeadEngine(layout, initHead(mlp, layout, createRng(1)), null, 8)).toThrow(TrainError);
    const lin = headLayout({ kind: 'linear' }, 10, 5);
    expect(() => predictLinearHead(lin, new Float32Array(3), tr.x, tr.n)).toThrow(/needs 50/);
  });
});

// The train node's Transductive CLIP params (kept apart from train.test.ts): the contrastive term and
// per-epoch ensemble labels started from init_probs.
import { describe, expect, it } from 'vitest';
import train, { type TrainParams } from '../../src/nodes/train.js';
import { tensor, type Tensor } from '../../src/runtime/tensor.js';
import { portsFor } from '../../src/runtime/types/node-type.js';
import { gaussianClusters } from '../helpers/clusters.js';
import { nodeHarness } from '../helpers/node-harness.js';

const harness = nodeHarness(train, 3);

describe('train node: Transductive CLIP', () => {
  it('leaves the params of existing pipelines unchanged and declares init_probs only with ensemble labels', () => {
    const plain = harness.params({}) as TrainParams;
    expect(plain).not.toHaveProperty('contrastive');
    expect(plain).not.toHaveProperty('ensemble_labels');
    const p = harness.params({ contrastive: { weight: 0.5 }, ensemble_labels: {} }) as TrainParams;
    expect(p.contrastive).toEqual({ weight: 0.5, temperature: 0.1 });
    expect(p.ensemble_labels).toEqual({ momentum: 0.9 });
    expect(Object.keys(portsFor(train, p, new Set()).inputs)).toContain('init_probs');
    expect(Object.keys(portsFor(train, plain, new Set()).inputs)).not.toContain('init_probs');
  });

  it('trains with both and checks the shape of init_probs', async () => {
    const { x, y, n } = gaussianClusters(1, 3, 20, 8, 0.3);
    const inputs = { features: tensor('float32', [n, 8], x), labels: tensor('int32', [n], y), classes: ['a', 'b', 'c'] };
    const init = tensor('float32', [n, 3], new Float32Array(n * 3).fill(1 / 3));
    const p = harness.params({ epochs: 3, lr: 0.5, contrastive: { weight: 0.2 }, ensemble_labels: { momentum: 0.5 }, backend: 'cpu' }) as TrainParams;
    const out = await train.run(harness.context(p, { ...inputs, init_probs: init }).ctx);
    expect((out.train_probs as Tensor).shape).toEqual([n, 3]);
    const bad = tensor('float32', [n, 2], new Float32Array(n * 2));
    await expect(train.run(harness.context(p, { ...inputs, init_probs: bad }).ctx)).rejects.toThrow(/init_probs has shape/);
  });
});

import { describe, expect, it } from 'vitest';
import ensemble from '../../src/nodes/ensemble.js';
import sample, { type SampleParams } from '../../src/nodes/sample.js';
import { tensor, type Tensor } from '../../src/runtime/tensor.js';
import { portsFor } from '../../src/runtime/types/node-type.js';
import { nodeHarness } from '../helpers/node-harness.js';

const sampleHarness = nodeHarness(sample, 2);
const ensembleHarness = nodeHarness(ensemble, 2);

describe('sample node (Robust UPL)', () => {
  it('pseudo-labels by arg-max and keeps `shots` random samples per pseudo-class', async () => {
    const n = 40;
    // Pseudo-class c = i % 4, with confidence rising with i: random sampling must not take the top.
    const probs = new Float32Array(n * 4);
    for (let i = 0; i < n; i++) {
      probs.fill(0.1, i * 4, i * 4 + 4);
      probs[i * 4 + (i % 4)] = 0.5 + i / 100;
    }
    const truth = Int32Array.from({ length: n }, (_, i) => (i < 4 ? (i + 1) % 4 : i % 4));
    const p = sampleHarness.params({ shots: 3 }) as SampleParams;
    const out = await sample.run(sampleHarness.context(p, { probs: tensor('float32', [n, 4], probs), true_labels: tensor('int32', [n], truth) }).ctx);
    const labels = (out.labels as Tensor<'int32'>).data;
    expect(Array.from(labels.subarray(0, 8))).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    const mask = (out.mask as Tensor<'bool'>).data;
    expect(mask.reduce((s, v) => s + v, 0)).toBe(12);
    expect(out.report).toMatchObject({ size: 12, per_class: [3, 3, 3, 3], pseudo_label_accuracy: 0.9 });
    const again = await sample.run(sampleHarness.context(p, { probs: tensor('float32', [n, 4], probs) }, 3).ctx);
    expect((again.mask as Tensor).data).not.toEqual(mask);
  });
});

describe('ensemble node', () => {
  it('declares every connected input and averages them', async () => {
    expect(Object.keys(portsFor(ensemble, {}, new Set(['a', 'b', 'c'])).inputs)).toEqual(['a', 'b', 'c']);
    const a = tensor('float32', [2, 2], Float32Array.of(1, 0, 0.5, 0.5));
    const b = tensor('float32', [2, 2], Float32Array.of(0, 1, 0.5, 0.5));
    const out = await ensemble.run(ensembleHarness.context({}, { a, b }).ctx);
    expect(Array.from((out.probs as Tensor<'float32'>).data)).toEqual([0.5, 0.5, 0.5, 0.5]);
    await expect(ensemble.run(ensembleHarness.context({}, { a }).ctx)).rejects.toThrow(/at least two/);
    const c = tensor('float32', [3, 2], new Float32Array(6));
    await expect(ensemble.run(ensembleHarness.context({}, { a, c }).ctx)).rejects.toThrow(/shape/);
  });
});

import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { CIFAR10_CLASSES } from '../../src/data/cifar-classes.js';
import type { NoiseReport } from '../../src/methods/noise.js';
import noiseInject, { type NoiseInjectParams } from '../../src/nodes/noise-inject.js';
import { tensor, type Tensor } from '../../src/runtime/tensor.js';
import { portsFor, type NodeContext, type PortValue } from '../../src/runtime/types/node-type.js';
import { removeTemp, tempDir } from '../helpers/temp.js';

afterAll(removeTemp);

const N = 2000;
const labels = tensor('int32', [N], Int32Array.from({ length: N }, (_, i) => i % 10));
const classes = [...CIFAR10_CLASSES];

function ctxFor(params: Partial<NoiseInjectParams>, inputs: Record<string, PortValue>, seed = 1): NodeContext<NoiseInjectParams> {
  return {
    nodeId: 'noise',
    params: { include_true_class: true, instance_std: 0.1, ...params } as NoiseInjectParams,
    seed,
    inputs,
    baseDir: tmpdir(),
    cacheDir: tmpdir(),
    scratchDir: tempDir('sieve-noise-'),
    signal: new AbortController().signal,
    progress: () => undefined,
    log: () => undefined,
    note: () => undefined,
  };
}

describe('noise-inject node', () => {
  it('declares its ports, making the model-specific input required', () => {
    const ports = (model: NoiseInjectParams['model']) => portsFor(noiseInject, { model, rate: 0.2, include_true_class: true, instance_std: 0.1 }, new Set());
    expect(Object.keys(ports('symmetric').outputs).sort()).toEqual(['flip_mask', 'noisy_labels', 'report', 'true_labels']);
    expect(ports('symmetric').inputs.features.optional).toBe(true);
    expect(ports('instance').inputs.features.optional).toBe(false);
    expect(ports('confusion').inputs.zeroshot_probs.optional).toBe(false);
    expect(ports('instance').inputs.zeroshot_probs.optional).toBe(true);
  });

  it('injects asymmetric CIFAR-10 noise and passes the true labels through', async () => {
    const out = await noiseInject.run(ctxFor({ model: 'asymmetric', rate: 0.4, map: 'cifar10' }, { labels, classes }, 3));
    const noisy = out.noisy_labels as Tensor<'int32'>;
    const mask = out.flip_mask as Tensor<'bool'>;
    expect(noisy.dtype).toBe('int32');
    expect(noisy.shape).toEqual([N]);
    expect(mask.dtype).toBe('bool');
    expect(out.true_labels).toBe(labels);
    const report = out.report as NoiseReport;
    expect(report.requested_rate).toBe(0.4);
    expect(report.realised_rate).toBe(0.2);
    expect(report.per_class_realised_rate[classes.indexOf('cat')]).toBe(0.4);
    expect(report.per_class_realised_rate[classes.indexOf('ship')]).toBe(0);
    let flips = 0;
    for (let i = 0; i < N; i++) flips += mask.data[i];
    expect(flips).toBe(report.num_flipped);
    const again = await noiseInject.run(ctxFor({ model: 'asymmetric', rate: 0.4, map: 'cifar10' }, { labels, classes }, 3));
    expect((again.noisy_labels as Tensor).data).toEqual(noisy.data);
  });

  it('runs symmetric, instance and confusion models from their inputs', async () => {
    const sym = await noiseInject.run(ctxFor({ model: 'symmetric', rate: 0.5, include_true_class: false }, { labels, classes }));
    expect((sym.report as NoiseReport).realised_rate).toBe(0.5);

    const D = 8;
    const features = tensor('float32', [N, D], Float32Array.from({ length: N * D }, (_, i) => Math.sin(i * 0.37)));
    const inst = await noiseInject.run(ctxFor({ model: 'instance', rate: 0.3 }, { labels, classes, features }));
    expect(Math.abs((inst.report as NoiseReport).realised_rate - 0.3)).toBeLessThan(0.04);

    const probs = new Float32Array(N * 10);
    for (let i = 0; i < N; i++) probs[i * 10 + ((i % 10) + 3) % 10] = 1; // CLIP is sure of the class 3 places on
    const conf = await noiseInject.run(ctxFor({ model: 'confusion', rate: 0.25 }, { labels, classes, zeroshot_probs: tensor('float32', [N, 10], probs) }));
    const noisy = (conf.noisy_labels as Tensor<'int32'>).data;
    for (let i = 0; i < N; i++) if (noisy[i] !== i % 10) expect(noisy[i]).toBe(((i % 10) + 3) % 10);
    expect((conf.report as NoiseReport).num_flipped).toBe(500);
  });

  it('accepts a transition matrix instead of a rate', async () => {
    const T = Array.from({ length: 10 }, (_, y) => Array.from({ length: 10 }, (_, k) => (k === y ? 0.8 : k === (y + 1) % 10 ? 0.2 : 0)));
    const out = await noiseInject.run(ctxFor({ model: 'asymmetric', transition: T }, { labels, classes }));
    const noisy = (out.noisy_labels as Tensor<'int32'>).data;
    for (let i = 0; i < N; i++) expect([i % 10, (i % 10 + 1) % 10]).toContain(noisy[i]);
    expect(Math.abs((out.report as NoiseReport).realised_rate - 0.2)).toBeLessThan(0.03);
  });

  it('refuses impossible requests naming the param or input', async () => {
    const cases: [Partial<NoiseInjectParams>, Record<string, PortValue>, RegExp][] = [
      [{ model: 'symmetric' }, { labels, classes }, /needs param "rate"/],
      [{ model: 'symmetric', rate: 1.2 }, { labels, classes }, /rate must be in \[0, 1\]/],
      [{ model: 'asymmetric', rate: 0.2 }, { labels, classes }, /needs param "map"/],
      [{ model: 'asymmetric', rate: 0.2, map: { unicorn: 'cat' } }, { labels, classes }, /map: source class "unicorn"/],
      [{ model: 'asymmetric', rate: 0.2, transition: [[1]] }, { labels, classes }, /"rate" has no meaning with "transition"/],
      [{ model: 'asymmetric', transition: [[1]] }, { labels, classes }, /transition must be a 10×10 matrix/],
      [{ model: 'symmetric', rate: 0.2, map: 'cifar10' }, { labels, classes }, /only apply to model "asymmetric"/],
      [{ model: 'confusion', rate: 0.2 }, { labels, classes }, /needs the "zeroshot_probs" input/],
      [{ model: 'instance', rate: 0.2 }, { labels, classes }, /needs the "features" input/],
      [{ model: 'symmetric', rate: 0.2 }, { labels, classes: 'cat' }, /"classes" must be a non-empty JSON array/],
      [{ model: 'symmetric', rate: 0.2 }, { labels: tensor('float32', [1], new Float32Array(1)), classes }, /"labels" must be int32/],
    ];
    for (const [params, inputs, message] of cases) await expect(noiseInject.run(ctxFor(params, inputs))).rejects.toThrow(message);
  });
});

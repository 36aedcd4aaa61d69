import { describe, expect, it } from 'vitest';
import { emaUpdate } from '../../src/methods/ensemble-labels.js';
import { fitLogisticRegression, gatherRows, predictProba } from '../../src/methods/logreg.js';
import { mixfix } from '../../src/methods/mixfix.js';
import relabel, { type RelabelParams } from '../../src/nodes/relabel.js';
import { createRng } from '../../src/random/rng.js';
import { tensor, type Json, type Tensor } from '../../src/runtime/tensor.js';
import { portsFor, type NodeContext, type PortValue } from '../../src/runtime/types/node-type.js';
import { nodeHarness } from '../helpers/node-harness.js';

const harness = nodeHarness(relabel);
const params = (overrides: Record<string, unknown> = {}): RelabelParams => harness.params(overrides);
const context = (p: RelabelParams, inputs: Record<string, PortValue>): NodeContext<RelabelParams> => harness.context(p, inputs).ctx;

// The 6-sample MixFix case: selected/agree, selected/relabel, absorb, below absorb, below relabel, relabel.
const probs = Float32Array.from([0.9, 0.05, 0.05, 0.1, 0.1, 0.8, 0.2, 0.1, 0.7, 0.6, 0.3, 0.1, 0.79, 0.2, 0.01, 0.95, 0.03, 0.02]);
const noisy = Int32Array.from([0, 1, 2, 0, 1, 2]);
const truth = Int32Array.from([0, 2, 2, 0, 0, 1]);
const selection = Uint8Array.from([1, 1, 0, 0, 0, 0]);
const mixfixInputs: Record<string, PortValue> = {
  labels: tensor('int32', [6], noisy),
  selection: tensor('bool', [6], selection),
  probs: tensor('float32', [6, 3], probs),
  true_labels: tensor('int32', [6], truth),
  classes: ['a', 'b', 'c'],
};

describe('relabel node: mixfix', () => {
  it('defaults to the reference thresholds and derives ports from the params', () => {
    expect(params()).toMatchObject({ method: 'mixfix', source: 'probs', absorb: 0.8, relabel: 0.8 });
    const logregPorts = portsFor(relabel, params({ source: 'logreg' }), new Set());
    expect(logregPorts.inputs.features.optional).toBe(false);
    expect(logregPorts.inputs.probs.optional).toBe(true);
    expect(Object.keys(portsFor(relabel, params({ method: 'ensemble-labels' }), new Set()).outputs)).toEqual(['labels', 'ema', 'report']);
  });

  it('applies MixFix to the given predictions and reports accuracy against the true labels', async () => {
    const p = params({ absorb: Math.fround(0.7), relabel: Math.fround(0.8) });
    const out = await relabel.run(context(p, mixfixInputs));
    const expected = mixfix(probs, 3, noisy, selection, { absorb: p.absorb, relabel: p.relabel });
    expect((out.labels as Tensor<'int32'>).data).toEqual(expected.labels);
    expect((out.train_mask as Tensor<'bool'>).data).toEqual(expected.trainMask);
    expect((out.relabelled as Tensor<'bool'>).data).toEqual(expected.relabelled);
    const report = out.report as Record<string, Json>;
    expect(report.counts).toEqual({ selected: 2, absorbed: 1, relabelled: 2, total: 4 });
    // Relabelled: sample 1 (→ 2, true 2) and 5 (→ 0, true 1): accuracy 1/2; absorbed sample 2 is right.
    expect(report.relabel_accuracy).toBe(0.5);
    expect(report.absorbed_accuracy).toBe(1);
    expect(report.train_label_accuracy).toBe(0.75);
  });

  it('source logreg trains on the selected features and predicts all samples', async () => {
    const rng = createRng(2, 'relabel');
    const n = 60;
    const d = 4;
    const x = Float32Array.from({ length: n * d }, (_, j) => (Math.floor(j / d) % 2 === 0 ? 1 : -1) * (j % d === 0 ? 1 : 0) + 0.2 * rng.normal());
    const labels = Int32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 0 : 1));
    labels[0] = 1; // one wrong label, not selected
    const sel = Uint8Array.from({ length: n }, (_, i) => (i < 10 ? 0 : 1));
    const inputs: Record<string, PortValue> = {
      labels: tensor('int32', [n], labels), selection: tensor('bool', [n], sel), features: tensor('float32', [n, d], x), classes: ['x', 'y'],
    };
    const out = await relabel.run(context(params({ source: 'logreg' }), inputs));
    const chosen = [...sel.keys()].filter((i) => sel[i]);
    const fit = fitLogisticRegression(gatherRows(x, d, chosen), Int32Array.from(chosen, (i) => labels[i]), 2, { classWeight: 'balanced' });
    const expected = mixfix(predictProba(fit, { data: x, shape: [n, d] }), 2, labels, sel, { absorb: 0.8, relabel: 0.8 });
    expect((out.labels as Tensor<'int32'>).data).toEqual(expected.labels);
    expect((out.labels as Tensor<'int32'>).data[0]).toBe(0);
    expect((out.report as Record<string, Json>).logistic_regression).toMatchObject({ trained_on: 50, converged: true });
    const { classes: _, ...noClasses } = inputs;
    await expect(relabel.run(context(params({ source: 'logreg' }), noClasses))).rejects.toThrow(/"classes" is required with source: logreg/);
    const { features: __, ...noFeatures } = inputs;
    await expect(relabel.run(context(params({ source: 'logreg' }), noFeatures))).rejects.toThrow(/"features" is required with source: logreg/);
  });

  it('rejects inconsistent inputs', async () => {
    const { probs: _, ...noProbs } = mixfixInputs;
    await expect(relabel.run(context(params(), noProbs))).rejects.toThrow(/"probs" is required with source: probs/);
    await expect(relabel.run(context(params(), { ...mixfixInputs, classes: ['a', 'b'] }))).rejects.toThrow(/K = 3 columns but "classes" names 2/);
    await expect(relabel.run(context(params(), { ...mixfixInputs, selection: tensor('bool', [2], new Uint8Array(2)) })))
      .rejects.toThrow(/"selection" has 2 entries, "labels" has 6/);
  });
});

describe('relabel node: ensemble labels', () => {
  const init = Float32Array.from([0.6, 0.4, 0.2, 0.8]);
  const current = Float32Array.from([0, 1, 1, 0]);
  it('starts from init_probs, then continues from previous', async () => {
    const p = params({ method: 'ensemble-labels', momentum: 0.5 });
    const first = await relabel.run(context(p, { probs: tensor('float32', [2, 2], current), init_probs: tensor('float32', [2, 2], init), true_labels: tensor('int32', [2], Int32Array.from([1, 0])) }));
    const expected = emaUpdate(init, current, 2, 0.5);
    expect((first.ema as Tensor<'float32'>).data).toEqual(expected.ema);
    expect(Array.from((first.labels as Tensor<'int32'>).data)).toEqual([1, 0]);
    expect(first.report).toMatchObject({ started_from: 'init_probs', labels_changed: 2, label_accuracy: 1 });
    const second = await relabel.run(context(p, { probs: tensor('float32', [2, 2], current), previous: first.ema as Tensor, init_probs: tensor('float32', [2, 2], init) }));
    expect((second.ema as Tensor<'float32'>).data).toEqual(emaUpdate(expected.ema, current, 2, 0.5).ema);
    expect(second.report).toMatchObject({ started_from: 'previous' });
    await expect(relabel.run(context(p, { probs: tensor('float32', [2, 2], current) }))).rejects.toThrow(/needs "previous".*or "init_probs"/);
  });
});

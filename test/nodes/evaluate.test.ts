import { describe, expect, it } from 'vitest';
import evaluate, { type EvaluateParams } from '../../src/nodes/evaluate.js';
import { tensor, type Json } from '../../src/runtime/tensor.js';
import type { NodeContext, PortValue } from '../../src/runtime/types/node-type.js';
import { nodeHarness } from '../helpers/node-harness.js';

const harness = nodeHarness(evaluate);
const params = (overrides: Record<string, unknown> = {}): EvaluateParams => harness.params(overrides);
function context(inputs: Record<string, PortValue>, p = params()): NodeContext<EvaluateParams> {
  return harness.context(p, inputs).ctx;
}

// Test set: 4 samples, K = 2; confidences .875 ✓, .875 ✗, .75 ✓, .5625 ✓ → accuracy 3/4.
const testInputs: Record<string, PortValue> = {
  test_probs: tensor('float32', [4, 2], Float32Array.from([0.875, 0.125, 0.875, 0.125, 0.25, 0.75, 0.5625, 0.4375])),
  test_labels: tensor('int32', [4], Int32Array.from([0, 1, 1, 0])),
  classes: ['neg', 'pos'],
};
// Training side: samples 2 and 4 mislabelled; selection keeps 0, 1, 2; relabel fixes 4 and breaks 3.
const trainInputs: Record<string, PortValue> = {
  selection: tensor('bool', [6], Uint8Array.from([1, 1, 1, 0, 0, 0])),
  noisy_labels: tensor('int32', [6], Int32Array.from([0, 1, 1, 0, 1, 0])),
  true_labels: tensor('int32', [6], Int32Array.from([0, 1, 0, 0, 0, 0])),
  relabel_labels: tensor('int32', [6], Int32Array.from([0, 1, 1, 1, 0, 0])),
  train_mask: tensor('bool', [6], Uint8Array.from([1, 1, 1, 1, 1, 0])),
};

describe('evaluate node', () => {
  it('is a metrics node with default 15 ECE bins', () => {
    expect(evaluate.metrics).toEqual(['metrics']);
    expect(params()).toEqual({ ece_bins: 15, max_table_classes: 20 });
  });

  it('computes test, selection and relabel metrics and prints a table', async () => {
    const out = await evaluate.run(context({ ...testInputs, ...trainInputs }));
    const m = out.metrics as Record<string, Json>;
    expect(m.test_accuracy).toBe(0.75);
    // Bins: 13 holds .875 ×2 (acc .5), 11 holds .75 (acc 1), 8 holds .5625 (acc 1).
    expect(m.ece as number).toBeCloseTo(0.5 * 0.375 + 0.25 * 0.25 + 0.25 * 0.4375, 9);
    expect(m.mean_confidence as number).toBeCloseTo((0.875 * 2 + 0.75 + 0.5625) / 4, 7);
    expect(m.confusion).toEqual({ rows: 'true class', columns: 'predicted class', matrix: [[2, 0], [1, 1]] });
    expect(m.test_mean_class_accuracy).toBe(0.75);
    expect(m.noise_rate as number).toBeCloseTo(2 / 6, 12);
    expect(m.selection_precision as number).toBeCloseTo(2 / 3, 12);
    expect(m.selection_recall).toBe(0.5);
    expect(m.selection_f1 as number).toBeCloseTo(4 / 7, 12);
    // Relabelled (label ≠ noisy): samples 3 (0 → 1, wrong) and 4 (1 → 0, right).
    expect(m.relabelled).toBe(2);
    expect(m.relabel_accuracy).toBe(0.5);
    expect(m.relabelled_were_clean).toBe(1);
    expect(m.train_set_size).toBe(5);
    expect(m.train_label_accuracy).toBe(0.6);
    const perClass = m.per_class as Array<Record<string, Json>>;
    expect(perClass[0]).toMatchObject({ class: 'neg', test_samples: 2, test_accuracy: 1, given: 3, selected: 1, selection_precision: 1 });
    // Per-class selection recall: clean samples of the class kept / clean samples of the class (0: 1 of 0, 3, 5; 1: sample 1).
    expect(perClass[0].selection_recall as number).toBeCloseTo(1 / 3, 12);
    expect(perClass[1].selection_recall).toBe(1);
    expect(perClass[1]).toMatchObject({ class: 'pos', given: 3, selected: 2, selection_precision: 0.5 });
    const table = m.table as string;
    expect(table).toMatch(/test_accuracy\s+0\.7500/);
    expect(table).toMatch(/selection_f1\s+0\.5714/);
    expect(table).toMatch(/class\s+test_samples/);
  });

  it('evaluates a selection alone and uses null for undefined ratios', async () => {
    const { selection: _, ...rest } = trainInputs;
    const out = await evaluate.run(context({ ...rest, selection: tensor('bool', [6], new Uint8Array(6)) }));
    const m = out.metrics as Record<string, Json>;
    expect(m.selection_precision).toBeNull();
    expect(m.test_accuracy).toBeUndefined();
    expect(m.table as string).toMatch(/selection_precision\s+–/);
  });

  it('refuses half pairs and empty evaluations', async () => {
    await expect(evaluate.run(context({ test_probs: testInputs.test_probs }))).rejects.toThrow(/go together/);
    await expect(evaluate.run(context({ classes: ['a'] }))).rejects.toThrow(/nothing to evaluate/);
    await expect(evaluate.run(context({ ...testInputs, classes: ['a', 'b', 'c'] }))).rejects.toThrow(/"test_probs" has 2 columns, "classes" names 3/);
    await expect(evaluate.run(context({ relabel_labels: trainInputs.relabel_labels, true_labels: trainInputs.true_labels })))
      .rejects.toThrow(/needs "relabel_mask" or "noisy_labels"/);
  });
});

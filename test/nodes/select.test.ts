import { describe, expect, it } from 'vitest';
import { clipCleaner } from '../../src/methods/clipcleaner.js';
import { combineMasks } from '../../src/methods/combine.js';
import { knnAgreement } from '../../src/methods/selection-baselines.js';
import select, { SELECT_METHODS, type SelectParams } from '../../src/nodes/select.js';
import { createRng } from '../../src/random/rng.js';
import { tensor, type Json, type Tensor } from '../../src/runtime/tensor.js';
import { portsFor, runsInWorker, type NodeContext, type PortValue } from '../../src/runtime/types/node-type.js';
import { nodeHarness } from '../helpers/node-harness.js';

const harness = nodeHarness(select, 5);
const validate = harness.isValid;
const params = (overrides: Record<string, unknown> = {}): SelectParams => harness.params(overrides);
function context(p: SelectParams, inputs: Record<string, PortValue>): { ctx: NodeContext<SelectParams>; logs: string[] } {
  const { ctx, rec } = harness.context(p, inputs);
  return { ctx, logs: rec.logs };
}

/** Three classes on the unit sphere, prompts near the centres, 30 % symmetric noise. */
function dataset() {
  const K = 3, D = 12, n = 150, P = 2;
  const rng = createRng(7, 'select-node');
  const centres = Array.from({ length: K * D }, () => rng.normal());
  const x = new Float32Array(n * D);
  const truth = new Int32Array(n);
  const noisy = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    truth[i] = i % K;
    let s = 0;
    for (let q = 0; q < D; q++) {
      x[i * D + q] = centres[truth[i] * D + q] + 0.6 * rng.normal();
      s += x[i * D + q] ** 2;
    }
    for (let q = 0; q < D; q++) x[i * D + q] /= Math.sqrt(s);
    noisy[i] = rng.next() < 0.3 ? (truth[i] + 1 + rng.int(K - 1)) % K : truth[i];
  }
  const text = new Float32Array(K * P * D);
  for (let j = 0; j < K * P; j++) {
    let s = 0;
    for (let q = 0; q < D; q++) {
      text[j * D + q] = centres[Math.floor(j / P) * D + q] + 0.3 * rng.normal();
      s += text[j * D + q] ** 2;
    }
    for (let q = 0; q < D; q++) text[j * D + q] /= Math.sqrt(s);
  }
  return {
    n, K,
    inputs: {
      features: tensor('float32', [n, D], x),
      labels: tensor('int32', [n], noisy),
      text_features: tensor('float32', [K, P, D], text),
      true_labels: tensor('int32', [n], truth),
      classes: ['cat', 'dog', 'bird'],
    } as Record<string, PortValue>,
  };
}

const data = dataset();

describe('select node', () => {
  it('declares ports and a schema whose defaults are the reference settings', () => {
    const p = params();
    expect(p).toMatchObject({ method: 'clipcleaner', gmm_threshold: 0.5, consistency_threshold: 0.8, C: 1, class_weight: 'balanced', oof_folds: 1 });
    const ports = portsFor(select, p, new Set());
    expect(ports.outputs.mask).toMatchObject({ dtype: 'bool', rank: 1 });
    expect(ports.inputs.text_features.optional).toBe(true);
    expect(runsInWorker(select)).toBe(true);
    expect(validate({ method: 'nope' })).toBe(false);
  });

  it('clipcleaner: mask, named score and sub-mask columns, and a report with quality', async () => {
    const { ctx } = context(params(), data.inputs);
    const out = await select.run(ctx);
    const mask = out.mask as Tensor<'bool'>;
    const scores = out.scores as Tensor<'float32'>;
    const submasks = out.submasks as Tensor<'bool'>;
    const report = out.report as Record<string, Json>;
    const expected = clipCleaner(
      data.inputs.features as Tensor<'float32'>, data.inputs.text_features as Tensor<'float32'>,
      (data.inputs.labels as Tensor<'int32'>).data, 3,
    );
    expect(mask.data).toEqual(expected.mask);
    expect(report.score_columns).toEqual([
      'clipcleaner.zeroshot.loss_score', 'clipcleaner.zeroshot.gmm_posterior', 'clipcleaner.zeroshot.consistency',
      'clipcleaner.logreg.loss_score', 'clipcleaner.logreg.gmm_posterior', 'clipcleaner.logreg.consistency',
    ]);
    expect(report.submask_columns).toEqual([
      'clipcleaner.zeroshot.gmm', 'clipcleaner.zeroshot.consistency', 'clipcleaner.logreg.gmm', 'clipcleaner.logreg.consistency',
      'clipcleaner.intersection', 'clipcleaner.refill', 'clipcleaner',
    ]);
    expect(scores.shape).toEqual([data.n, 6]);
    expect(submasks.shape).toEqual([data.n, 7]);
    // Column 2 is the zero-shot consistency; column 3 of the sub-masks the logreg consistency mask.
    for (let i = 0; i < data.n; i++) {
      expect(scores.data[i * 6 + 2]).toBeCloseTo(expected.sources[0].consistency[i], 6);
      expect(submasks.data[i * 7 + 3]).toBe(expected.sources[1].consistencyMask[i]);
    }
    const perClass = report.per_class as Array<{ given: number; selected: number; selected_clean: number }>;
    expect(perClass.reduce((a, r) => a + r.selected, 0)).toBe(report.num_selected);
    expect(perClass.reduce((a, r) => a + r.given, 0)).toBe(data.n);
    const quality = report.quality as { precision: number; recall: number };
    expect(quality.precision).toBeGreaterThan(0.9);
    expect(perClass.reduce((a, r) => a + r.selected_clean, 0)).toBe(Math.round(quality.precision * (report.num_selected as number)));
  });

  it('runs every baseline; knn matches the pure function', async () => {
    for (const method of SELECT_METHODS) {
      const { ctx } = context(params({ method, k: 5 }), data.inputs);
      const out = await select.run(ctx);
      const report = out.report as Record<string, Json>;
      expect(report.method).toBe(method);
      expect((out.mask as Tensor).shape).toEqual([data.n]);
      expect((report.submask_columns as string[]).at(-1)).toBe(method);
      if (method === 'knn') {
        const direct = knnAgreement(data.inputs.features as Tensor<'float32'>, (data.inputs.labels as Tensor<'int32'>).data, 3, { k: 5 });
        expect((out.mask as Tensor<'bool'>).data).toEqual(direct.mask);
      }
    }
  });

  it('combines methods by vote from their own masks', async () => {
    const p = params({ method: 'combine', combine: { mode: 'vote', methods: ['knn', 'logreg-agreement', 'feature-distance'], min_votes: 2 } });
    const out = await select.run(context(p, data.inputs).ctx);
    const report = out.report as Record<string, Json>;
    const cols = report.submask_columns as string[];
    const sub = out.submasks as Tensor<'bool'>;
    const m = cols.length;
    const column = (name: string) => Uint8Array.from({ length: data.n }, (_, i) => sub.data[i * m + cols.indexOf(name)]);
    const expected = combineMasks([column('knn'), column('logreg-agreement'), column('feature-distance')], 'vote', 2);
    expect((out.mask as Tensor<'bool'>).data).toEqual(expected);
    expect(report.combine).toEqual({ mode: 'vote', min_votes: 2 });
  });

  it('fails clearly on missing or contradictory inputs', async () => {
    const { text_features: _, ...noText } = data.inputs;
    await expect(select.run(context(params(), noText).ctx)).rejects.toThrow(/"text_features".*required: clipcleaner uses zero-shot/);
    await expect(select.run(context(params({ method: 'combine' }), data.inputs).ctx)).rejects.toThrow(/needs the "combine" param/);
    await expect(select.run(context(params({ method: 'knn', combine: { mode: 'union', methods: ['knn'] } }), data.inputs).ctx))
      .rejects.toThrow(/only read with method: combine/);
    await expect(select.run(context(params({ method: 'combine', combine: { mode: 'vote', methods: ['knn'] } }), data.inputs).ctx))
      .rejects.toThrow(/needs combine.min_votes/);
    const bad = { ...data.inputs, labels: tensor('int32', [data.n], new Int32Array(data.n).fill(7)) };
    await expect(select.run(context(params({ method: 'knn' }), bad).ctx)).rejects.toThrow(/outside \[0, 3\)/);
    const short = { ...data.inputs, labels: tensor('int32', [3], new Int32Array(3)) };
    await expect(select.run(context(params({ method: 'knn' }), short).ctx)).rejects.toThrow(/"labels" has 3 entries, "features" has N = 150/);
  });
});

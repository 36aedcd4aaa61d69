// The `evaluate` node: test accuracy, per-class accuracy, confusion matrix and expected calibration
// error of test predictions; selection precision/recall/F1 against the true labels; relabel
// accuracy; per-class counts. Writes one JSON of (mostly flat) metrics with a printed table in it.
import { MethodInputError, argmaxRows, countTrue } from '../methods/linalg.js';
import {
  accuracy, confusionMatrix, expectedCalibrationError, meanConfidence, perClassAccuracy, perClassCounts, relabelQuality, selectionQuality,
} from '../methods/metrics.js';
import type { DType, Json, Tensor } from '../runtime/tensor.js';
import { defineNode, type NodeContext } from '../runtime/types/node-type.js';
import { optionalClassNames, optionalTensor } from './inputs.js';

export interface EvaluateParams {
  ece_bins: number;
  max_table_classes: number;
}

export class EvaluateInputError extends Error {
  override name = 'EvaluateInputError';
}

function tensorInput<D extends DType>(ctx: NodeContext<EvaluateParams>, name: string, dtype: D, rank: number): Tensor<D> | undefined {
  return optionalTensor(ctx.inputs, name, dtype, rank, EvaluateInputError);
}

function finite(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

function sameLength(name: string, t: ArrayLike<unknown>, other: string, n: number): void {
  if (t.length !== n) throw new EvaluateInputError(`input "${name}" has ${t.length} entries, "${other}" has ${n}`);
}

function formatValue(v: Json | undefined): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(4);
  return String(v);
}

/** Two-column "metric value" table of the scalar metrics, then a per-class table when K is small. */
export function metricsTable(metrics: Record<string, Json>, perClass: Array<Record<string, Json>>, maxClasses: number): string {
  const scalars = Object.entries(metrics).filter(([, v]) => typeof v === 'number' || v === null);
  const width = Math.max(6, ...scalars.map(([k]) => k.length));
  const lines = [`${'metric'.padEnd(width)}  value`, ...scalars.map(([k, v]) => `${k.padEnd(width)}  ${formatValue(v)}`)];
  if (perClass.length > 0 && perClass.length <= maxClasses) {
    const cols = Object.keys(perClass[0]);
    const widths = cols.map((c) => Math.max(c.length, ...perClass.map((r) => formatValue(r[c]).length)));
    lines.push('', cols.map((c, j) => c.padEnd(widths[j])).join('  '));
    for (const r of perClass) lines.push(cols.map((c, j) => formatValue(r[c]).padEnd(widths[j])).join('  '));
  }
  return lines.join('\n');
}

export default defineNode<EvaluateParams>({
  type: 'evaluate',
  version: '3',
  description: 'Measures test accuracy, ECE, per-class accuracy and confusion; selection precision/recall/F1; relabel accuracy; per-class counts.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    required: [],
    properties: {
      ece_bins: { type: 'integer', minimum: 1, maximum: 10000, default: 15, description: 'Equal-width confidence bins of the expected calibration error.' },
      max_table_classes: { type: 'integer', minimum: 0, maximum: 100000, default: 20, description: 'Print the per-class table when K is at most this.' },
    },
  },
  ports: {
    inputs: {
      test_probs: { kind: 'tensor', dtype: 'float32', rank: 2, optional: true, description: 'Predictions on the test set [M, K].' },
      test_labels: { kind: 'tensor', dtype: 'int32', rank: 1, optional: true, description: 'Test labels [M].' },
      selection: { kind: 'tensor', dtype: 'bool', rank: 1, optional: true, description: 'Selected training samples [N].' },
      noisy_labels: { kind: 'tensor', dtype: 'int32', rank: 1, optional: true, description: 'Given (noisy) training labels [N].' },
      true_labels: { kind: 'tensor', dtype: 'int32', rank: 1, optional: true, description: 'True training labels [N].' },
      relabel_labels: { kind: 'tensor', dtype: 'int32', rank: 1, optional: true, description: 'Training labels after relabelling [N].' },
      relabel_mask: { kind: 'tensor', dtype: 'bool', rank: 1, optional: true, description: 'Relabelled samples [N]; default: where relabel_labels ≠ noisy_labels.' },
      train_mask: { kind: 'tensor', dtype: 'bool', rank: 1, optional: true, description: 'Final training set [N], for the label accuracy inside it.' },
      classes: { kind: 'json', optional: true, description: 'Class names (string[]).' },
    },
    outputs: {
      metrics: { kind: 'json', description: 'Scalar metrics, per_class, confusion and a printed table.' },
    },
  },
  metrics: ['metrics'],
  resources: { cpus: 1, memory: '1G' },
  async run(ctx) {
    const p = ctx.params;
    const testProbs = tensorInput(ctx, 'test_probs', 'float32', 2);
    const testLabels = tensorInput(ctx, 'test_labels', 'int32', 1)?.data;
    const selection = tensorInput(ctx, 'selection', 'bool', 1)?.data;
    const noisy = tensorInput(ctx, 'noisy_labels', 'int32', 1)?.data;
    const truth = tensorInput(ctx, 'true_labels', 'int32', 1)?.data;
    const relabelLabels = tensorInput(ctx, 'relabel_labels', 'int32', 1)?.data;
    const relabelMaskIn = tensorInput(ctx, 'relabel_mask', 'bool', 1)?.data;
    const trainMask = tensorInput(ctx, 'train_mask', 'bool', 1)?.data;
    const classesIn = optionalClassNames(ctx.inputs, EvaluateInputError);
    if ((testProbs === undefined) !== (testLabels === undefined)) {
      throw new EvaluateInputError('inputs "test_probs" and "test_labels" go together: connect both or neither');
    }

    let K: number;
    if (classesIn !== undefined) K = (classesIn as string[]).length;
    else if (testProbs) K = testProbs.shape[1];
    else {
      let max = -1;
      for (const arr of [noisy, truth, relabelLabels]) if (arr) for (const y of arr) max = Math.max(max, y);
      K = max + 1;
    }
    if (testProbs && testProbs.shape[1] !== K) throw new EvaluateInputError(`"test_probs" has ${testProbs.shape[1]} columns, "classes" names ${K}`);
    const classes = (classesIn as string[] | undefined) ?? Array.from({ length: K }, (_, c) => String(c));

    const metrics: Record<string, Json> = {};
    const perClass: Array<Record<string, Json>> = classes.map((name) => ({ class: name }));
    let evaluated = false;
    try {
      if (testProbs && testLabels) {
        sameLength('test_labels', testLabels, 'test_probs', testProbs.shape[0]);
        const pred = argmaxRows(testProbs.data, K);
        metrics.test_samples = testLabels.length;
        metrics.test_accuracy = finite(accuracy(pred, testLabels));
        metrics.ece = finite(expectedCalibrationError(testProbs.data, testLabels, K, p.ece_bins));
        metrics.mean_confidence = finite(meanConfidence(testProbs.data, K));
        const pca = perClassAccuracy(pred, testLabels, K);
        const counts = perClassCounts(testLabels, K);
        const valid = pca.filter(Number.isFinite);
        metrics.test_mean_class_accuracy = valid.length > 0 ? valid.reduce((a, b) => a + b, 0) / valid.length : null;
        perClass.forEach((row, c) => { row.test_samples = counts[c]; row.test_accuracy = finite(pca[c]); });
        const cm = confusionMatrix(pred, testLabels, K);
        metrics.confusion = { rows: 'true class', columns: 'predicted class', matrix: classes.map((_, t) => Array.from(cm.subarray(t * K, (t + 1) * K))) };
        evaluated = true;
      }
      const n = noisy?.length ?? truth?.length ?? selection?.length ?? relabelLabels?.length ?? 0;
      for (const [name, arr] of [['noisy_labels', noisy], ['true_labels', truth], ['selection', selection], ['relabel_labels', relabelLabels], ['relabel_mask', relabelMaskIn], ['train_mask', trainMask]] as const) {
        if (arr) sameLength(name, arr, 'the training inputs', n);
      }
      if (noisy) {
        const given = perClassCounts(noisy, K);
        perClass.forEach((row, c) => { row.given = given[c]; });
        if (truth) metrics.noise_rate = finite(1 - accuracy(noisy, truth));
      }
      if (selection) {
        metrics.selection_size = countTrue(selection);
        metrics.selection_fraction = n > 0 ? countTrue(selection) / n : null;
        if (noisy) {
          const kept = perClassCounts(noisy, K, selection);
          perClass.forEach((row, c) => { row.selected = kept[c]; });
        }
        if (noisy && truth) {
          const q = selectionQuality(selection, noisy, truth);
          metrics.selection_precision = finite(q.precision);
          metrics.selection_recall = finite(q.recall);
          metrics.selection_f1 = finite(q.f1);
          metrics.selection_noise = finite(q.noiseInSelection);
          const clean = Uint8Array.from(noisy, (y, i) => (selection[i] && y === truth[i] ? 1 : 0));
          const cleanKept = perClassCounts(noisy, K, clean);
          const cleanAll = perClassCounts(noisy, K, Uint8Array.from(noisy, (y, i) => (y === truth[i] ? 1 : 0)));
          perClass.forEach((row, c) => {
            const kept = row.selected as number;
            row.selection_precision = kept > 0 ? cleanKept[c] / kept : null;
            row.selection_recall = cleanAll[c] > 0 ? cleanKept[c] / cleanAll[c] : null;
          });
        }
        evaluated = true;
      }
      if (relabelLabels) {
        let relabelMask = relabelMaskIn;
        if (!relabelMask) {
          if (!noisy) throw new EvaluateInputError('"relabel_labels" needs "relabel_mask" or "noisy_labels" (to see which labels changed)');
          relabelMask = Uint8Array.from(relabelLabels, (y, i) => (y !== noisy[i] ? 1 : 0));
        }
        metrics.relabelled = countTrue(relabelMask);
        if (truth) {
          const q = relabelQuality(relabelLabels, relabelMask, truth, noisy);
          metrics.relabel_accuracy = finite(q.accuracy);
          metrics.relabel_correct = q.correct;
          if (noisy) metrics.relabelled_were_clean = q.wasClean;
          metrics.label_accuracy_after_relabel = finite(accuracy(relabelLabels, truth));
        }
        evaluated = true;
      }
      if (trainMask) {
        metrics.train_set_size = countTrue(trainMask);
        const labelsUsed = relabelLabels ?? noisy;
        if (labelsUsed && truth) metrics.train_label_accuracy = finite(relabelQuality(labelsUsed, trainMask, truth).accuracy);
        evaluated = true;
      }
    } catch (e) {
      if (e instanceof MethodInputError) throw new EvaluateInputError(e.message);
      throw e;
    }
    if (!evaluated) {
      throw new EvaluateInputError('nothing to evaluate: connect test_probs + test_labels, selection (+ noisy_labels, true_labels), relabel_labels or train_mask');
    }
    const table = metricsTable(metrics, perClass.some((r) => Object.keys(r).length > 1) ? perClass : [], p.max_table_classes);
    return { metrics: { ...metrics, per_class: perClass, table } };
  },
});

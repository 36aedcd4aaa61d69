// The `relabel` node: MixFix (absorb confident agreeing samples, relabel confident disagreeing ones,
// from a probability source: given predictions, or a class-balanced logistic regression trained on
// the selected subset), or Transductive CLIP's ensemble labels (argmax of an EMA of predictions).
import { emaUpdate } from '../methods/ensemble-labels.js';
import { checkLabels, MethodInputError } from '../methods/linalg.js';
import { fitLogisticRegression, gatherRows, predictProba } from '../methods/logreg.js';
import { relabelQuality } from '../methods/metrics.js';
import { mixfix } from '../methods/mixfix.js';
import { tensor, type DType, type Json, type Tensor } from '../runtime/tensor.js';
import { defineNode, type NodeContext, type Ports } from '../runtime/types/node-type.js';
import { optionalClassNames, optionalTensor } from './inputs.js';

export interface RelabelParams {
  method: 'mixfix' | 'ensemble-labels';
  source: 'probs' | 'logreg';
  absorb: number;
  relabel: number;
  C: number;
  class_weight: 'balanced' | 'none';
  max_iter: number;
  tol: number;
  momentum: number;
}

export class RelabelInputError extends Error {
  override name = 'RelabelInputError';
}

const paramsSchema = {
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: {
    method: {
      enum: ['mixfix', 'ensemble-labels'], default: 'mixfix',
      description: 'mixfix: absorb/relabel from confident predictions; ensemble-labels: argmax of an EMA of predictions (Transductive CLIP).',
    },
    source: {
      enum: ['probs', 'logreg'], default: 'probs',
      description: 'mixfix probabilities: the "probs" input, or a class-balanced logistic regression trained on the selected features (needs "features").',
    },
    absorb: { type: 'number', minimum: 0, maximum: 1, default: 0.8, description: 'mixfix θ_absorb: an unselected sample whose prediction agrees with its label joins when confidence ≥ this.' },
    relabel: { type: 'number', minimum: 0, maximum: 1, default: 0.8, description: 'mixfix θ_relabel: a sample whose prediction disagrees gets the predicted label when confidence ≥ this.' },
    C: { type: 'number', exclusiveMinimum: 0, default: 1, description: 'source logreg: inverse L2 strength (scikit-learn C).' },
    class_weight: { enum: ['balanced', 'none'], default: 'balanced', description: 'source logreg: class weights.' },
    max_iter: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1000, description: 'source logreg: L-BFGS iteration cap.' },
    tol: { type: 'number', exclusiveMinimum: 0, default: 1e-4, description: 'source logreg: tolerance on the largest gradient entry.' },
    momentum: { type: 'number', minimum: 0, maximum: 1, default: 0.9, description: 'ensemble-labels: ema = momentum·previous + (1 − momentum)·probs.' },
  },
} as const;

function ports(params: RelabelParams): Ports {
  const trueLabels = { kind: 'tensor', dtype: 'int32', rank: 1, optional: true, description: 'True labels [N], for accuracy figures in the report.' } as const;
  const classes = { kind: 'json', optional: true, description: 'Class names (string[]); gives K (required with source: logreg).' } as const;
  if (params.method === 'ensemble-labels') {
    return {
      inputs: {
        probs: { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Current predictions [N, K].' },
        previous: { kind: 'tensor', dtype: 'float32', rank: 2, optional: true, description: 'The previous EMA [N, K].' },
        init_probs: { kind: 'tensor', dtype: 'float32', rank: 2, optional: true, description: 'Zero-shot probabilities [N, K]: the EMA start when "previous" is absent.' },
        true_labels: trueLabels,
        classes,
      },
      outputs: {
        labels: { kind: 'tensor', dtype: 'int32', rank: 1, description: 'argmax of the EMA [N].' },
        ema: { kind: 'tensor', dtype: 'float32', rank: 2, description: 'The updated EMA [N, K].' },
        report: { kind: 'json', description: 'Labels changed since the previous EMA; accuracy when true labels are connected.' },
      },
    };
  }
  return {
    inputs: {
      labels: { kind: 'tensor', dtype: 'int32', rank: 1, description: 'Original noisy labels [N].' },
      selection: { kind: 'tensor', dtype: 'bool', rank: 1, description: 'Initial selection [N] (e.g. from select).' },
      probs: { kind: 'tensor', dtype: 'float32', rank: 2, optional: params.source !== 'probs', description: 'Predictions [N, K] (source: probs).' },
      features: { kind: 'tensor', dtype: 'float32', rank: 2, optional: params.source !== 'logreg', description: 'Image features [N, D] (source: logreg).' },
      true_labels: trueLabels,
      classes,
    },
    outputs: {
      labels: { kind: 'tensor', dtype: 'int32', rank: 1, description: 'Labels after relabelling [N].' },
      train_mask: { kind: 'tensor', dtype: 'bool', rank: 1, description: 'Selection ∪ absorbed ∪ relabelled [N].' },
      relabelled: { kind: 'tensor', dtype: 'bool', rank: 1, description: 'Samples that got a new label [N].' },
      absorbed: { kind: 'tensor', dtype: 'bool', rank: 1, description: 'Unselected samples absorbed with their own label [N].' },
      probs: { kind: 'tensor', dtype: 'float32', rank: 2, description: 'The probabilities MixFix used [N, K]: the "probs" input, or the logistic regression\'s predictions.' },
      report: { kind: 'json', description: 'Counts; absorbed/relabelled accuracy when true labels are connected.' },
    },
  };
}

function tensorInput<D extends DType>(ctx: NodeContext<RelabelParams>, name: string, dtype: D, rank: number, required: string | false): Tensor<D> | undefined {
  if (ctx.inputs[name] === undefined && required) throw new RelabelInputError(`input "${name}" is required ${required}`);
  return optionalTensor(ctx.inputs, name, dtype, rank, RelabelInputError);
}

/** K from the classes input when connected, checked against any other source of K. */
function numClassesOf(ctx: NodeContext<RelabelParams>, fromProbs: number | undefined): number {
  const classes = optionalClassNames(ctx.inputs, RelabelInputError);
  if (classes !== undefined) {
    if (fromProbs !== undefined && fromProbs !== classes.length) {
      throw new RelabelInputError(`probabilities have K = ${fromProbs} columns but "classes" names ${classes.length}`);
    }
    return classes.length;
  }
  if (fromProbs === undefined) throw new RelabelInputError('input "classes" is required with source: logreg (it gives K)');
  return fromProbs;
}

function finite(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

function runMixfix(ctx: NodeContext<RelabelParams>): Record<string, Tensor | Json> {
  const p = ctx.params;
  const noisy = tensorInput(ctx, 'labels', 'int32', 1, 'for mixfix')!.data;
  const selection = tensorInput(ctx, 'selection', 'bool', 1, 'for mixfix')!.data;
  const n = noisy.length;
  if (selection.length !== n) throw new RelabelInputError(`input "selection" has ${selection.length} entries, "labels" has ${n}`);
  const trueLabels = tensorInput(ctx, 'true_labels', 'int32', 1, false)?.data;
  if (trueLabels && trueLabels.length !== n) throw new RelabelInputError(`input "true_labels" has ${trueLabels.length} entries, expected ${n}`);

  let probs: Float32Array;
  let K: number;
  const report: Record<string, Json> = { method: 'mixfix', source: p.source, thresholds: { absorb: p.absorb, relabel: p.relabel } };
  if (p.source === 'probs') {
    const t = tensorInput(ctx, 'probs', 'float32', 2, 'with source: probs')!;
    if (t.shape[0] !== n) throw new RelabelInputError(`input "probs" has ${t.shape[0]} rows, "labels" has ${n}`);
    K = numClassesOf(ctx, t.shape[1]);
    probs = t.data;
  } else {
    const features = tensorInput(ctx, 'features', 'float32', 2, 'with source: logreg')!;
    if (features.shape[0] !== n) throw new RelabelInputError(`input "features" has ${features.shape[0]} rows, "labels" has ${n}`);
    K = numClassesOf(ctx, undefined);
    checkLabels(noisy, K, 'input "labels"');
    const chosen: number[] = [];
    for (let i = 0; i < n; i++) if (selection[i]) chosen.push(i);
    if (chosen.length === 0) throw new RelabelInputError('source logreg needs a non-empty selection to train on');
    const fit = fitLogisticRegression(
      gatherRows(features.data, features.shape[1], chosen), Int32Array.from(chosen, (i) => noisy[i]), K,
      { C: p.C, classWeight: p.class_weight, maxIter: p.max_iter, tol: p.tol },
    );
    ctx.log(`logistic regression on ${chosen.length} selected samples: ${fit.iterations} iterations, ${fit.stopReason}`);
    report.logistic_regression = {
      trained_on: chosen.length, iterations: fit.iterations, loss: finite(fit.loss), grad_norm: finite(fit.gradNorm),
      converged: fit.converged, stop_reason: fit.stopReason,
    };
    probs = predictProba(fit, features);
  }

  let result;
  try {
    result = mixfix(probs, K, noisy, selection, { absorb: p.absorb, relabel: p.relabel });
  } catch (e) {
    if (e instanceof MethodInputError) throw new RelabelInputError(e.message);
    throw e;
  }
  report.counts = result.counts;
  if (trueLabels) {
    const relabel = relabelQuality(result.labels, result.relabelled, trueLabels, noisy);
    const absorbed = relabelQuality(result.labels, result.absorbed, trueLabels);
    const train = relabelQuality(result.labels, result.trainMask, trueLabels);
    report.relabel_accuracy = finite(relabel.accuracy);
    report.relabelled_were_clean = relabel.wasClean;
    report.absorbed_accuracy = finite(absorbed.accuracy);
    report.train_label_accuracy = finite(train.accuracy);
  }
  const c = result.counts;
  ctx.log(`mixfix: ${c.selected} selected + ${c.absorbed} absorbed, ${c.relabelled} relabelled → ${c.total} in the training set`);
  return {
    labels: tensor('int32', [n], result.labels),
    train_mask: tensor('bool', [n], result.trainMask),
    relabelled: tensor('bool', [n], result.relabelled),
    absorbed: tensor('bool', [n], result.absorbed),
    probs: tensor('float32', [n, K], probs),
    report,
  };
}

function runEnsemble(ctx: NodeContext<RelabelParams>): Record<string, Tensor | Json> {
  const probsT = tensorInput(ctx, 'probs', 'float32', 2, 'for ensemble-labels')!;
  const [n, K] = probsT.shape;
  numClassesOf(ctx, K);
  const previous = tensorInput(ctx, 'previous', 'float32', 2, false) ?? tensorInput(ctx, 'init_probs', 'float32', 2, false);
  if (!previous) throw new RelabelInputError('ensemble-labels needs "previous" (the last EMA) or "init_probs" (zero-shot probabilities) to start from');
  if (previous.shape[0] !== n || previous.shape[1] !== K) {
    throw new RelabelInputError(`the EMA start has shape [${previous.shape.join(', ')}], "probs" has [${n}, ${K}]`);
  }
  const state = emaUpdate(previous.data, probsT.data, K, ctx.params.momentum);
  let changed = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < K; c++) if (previous.data[i * K + c] > previous.data[i * K + best]) best = c;
    if (best !== state.labels[i]) changed++;
  }
  const report: Record<string, Json> = {
    method: 'ensemble-labels', momentum: ctx.params.momentum, started_from: ctx.inputs.previous !== undefined ? 'previous' : 'init_probs',
    num_samples: n, labels_changed: changed,
  };
  const trueLabels = tensorInput(ctx, 'true_labels', 'int32', 1, false)?.data;
  if (trueLabels) {
    if (trueLabels.length !== n) throw new RelabelInputError(`input "true_labels" has ${trueLabels.length} entries, expected ${n}`);
    const all = relabelQuality(state.labels, new Uint8Array(n).fill(1), trueLabels);
    report.label_accuracy = finite(all.accuracy);
  }
  ctx.log(`ensemble labels: ${changed} of ${n} changed`);
  return { labels: tensor('int32', [n], state.labels), ema: tensor('float32', [n, K], state.ema), report };
}

export default defineNode<RelabelParams>({
  type: 'relabel',
  version: '2',
  description: 'Relabels noisy samples: MixFix (absorb and relabel from confident predictions) or Transductive CLIP ensemble labels (EMA of predictions).',
  paramsSchema,
  ports,
  resources: { cpus: 1, memory: '1G' },
  async run(ctx) {
    return ctx.params.method === 'ensemble-labels' ? runEnsemble(ctx) : runMixfix(ctx);
  },
});

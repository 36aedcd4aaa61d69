// The `select` node: judges which noisy labels to trust. CLIPCleaner (methods.md) or one of the
// baselines, or several of them combined by intersection, union or vote. Outputs the keep-mask,
// every sub-score and sub-mask as named columns (for ablations), and a report with per-class counts
// and, when the true labels are connected, selection precision/recall/F1.
import { clipCleanerSelect, type ClipCleanerCriterion, type ProbabilitySource } from '../methods/clipcleaner.js';
import { combineMasks, type CombineMode } from '../methods/combine.js';
import type { Gmm1dOptions } from '../methods/gmm.js';
import { checkLabels, countTrue, MethodInputError, type FloatTensor } from '../methods/linalg.js';
import { logisticProbabilities, type LogRegOptions, type OutOfFoldResult } from '../methods/logreg.js';
import { perClassCounts, selectionQuality } from '../methods/metrics.js';
import {
  agreementMask, confidentLearning, featureDistanceSelect, knnAgreement, smallLossSelect,
} from '../methods/selection-baselines.js';
import { zeroShotProbs, type ZeroShotAggregation } from '../methods/zeroshot.js';
import { tensor, type DType, type Json, type Tensor } from '../runtime/tensor.js';
import { defineNode, type NodeContext } from '../runtime/types/node-type.js';
import { optionalTensor, requiredClassNames } from './inputs.js';

export const SELECT_METHODS = [
  'clipcleaner', 'zeroshot-agreement', 'logreg-agreement', 'small-loss', 'knn', 'confident-learning', 'feature-distance',
] as const;
export type SelectMethod = (typeof SELECT_METHODS)[number];
type SourceName = 'zeroshot' | 'logreg';

export interface SelectParams {
  method: SelectMethod | 'combine';
  combine?: { mode: CombineMode; methods: SelectMethod[]; min_votes?: number };
  gmm_threshold: number;
  consistency_threshold: number;
  clipcleaner_sources: SourceName[];
  clipcleaner_criteria: ClipCleanerCriterion[];
  aggregation: ZeroShotAggregation;
  temperature: number | null;
  C: number;
  class_weight: 'balanced' | 'none';
  oof_folds: number;
  max_iter: number;
  tol: number;
  small_loss_source: SourceName;
  small_loss_threshold: number;
  small_loss_per_class: boolean;
  k: number;
  knn_threshold: number;
  cl_source: SourceName;
  cl_folds: number;
  feature_selection: 'gmm' | 'top-fraction';
  feature_threshold: number;
  feature_fraction: number;
  gmm_max_iter: number;
  gmm_tol: number;
  gmm_reg_covar: number;
}

export class SelectInputError extends Error {
  override name = 'SelectInputError';
}

const fraction = (description: string, value: number) => ({ type: 'number', minimum: 0, maximum: 1, default: value, description });
const sourceEnum = (description: string, value: SourceName) => ({ enum: ['zeroshot', 'logreg'], default: value, description });

const paramsSchema = {
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: {
    method: {
      enum: [...SELECT_METHODS, 'combine'], default: 'clipcleaner',
      description: 'Selection rule; "combine" runs the methods listed in `combine` and merges their masks.',
    },
    combine: {
      type: 'object', additionalProperties: false, required: ['mode', 'methods'],
      description: 'Only with method: combine. The methods to run (each with the params below) and how to merge them.',
      properties: {
        mode: { enum: ['intersection', 'union', 'vote'], description: 'intersection: kept by all; union: by any; vote: by at least min_votes.' },
        methods: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...SELECT_METHODS] }, description: 'Methods to run.' },
        min_votes: { type: 'integer', minimum: 1, maximum: 100, description: 'Votes needed with mode: vote.' },
      },
    },
    gmm_threshold: fraction('clipcleaner θ_gmm: keep when the posterior of the high-score GMM component ≥ this.', 0.5),
    consistency_threshold: fraction('clipcleaner θ_cons: keep when p(ỹ)/max_k p(k) ≥ this.', 0.8),
    clipcleaner_sources: {
      type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['zeroshot', 'logreg'] }, default: ['zeroshot', 'logreg'],
      description: 'clipcleaner probability sources, in order (the first drives the refill of empty classes); one source is an ablation.',
    },
    clipcleaner_criteria: {
      type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['gmm', 'consistency'] }, default: ['gmm', 'consistency'],
      description: 'clipcleaner criteria that enter the intersection; one criterion is an ablation.',
    },
    aggregation: {
      enum: ['sum-exp', 'mean-embedding'], default: 'sum-exp',
      description: 'Zero-shot over several prompts: CLIPCleaner sums exp(sim/τ) over prompts; CLIP averages the prompt embeddings.',
    },
    temperature: {
      type: ['number', 'null'], exclusiveMinimum: 0, default: null,
      description: 'Zero-shot τ; null = 0.07 for sum-exp, 0.01 for mean-embedding.',
    },
    C: { type: 'number', exclusiveMinimum: 0, default: 1, description: 'Logistic regression inverse L2 strength (scikit-learn C).' },
    class_weight: { enum: ['balanced', 'none'], default: 'balanced', description: 'Logistic regression class weights (balanced: N/(K·n_k)).' },
    oof_folds: {
      type: 'integer', minimum: 1, maximum: 100, default: 1,
      description: 'Logistic regression source: 1 = predict the training samples themselves (CLIPCleaner); ≥ 2 = out-of-fold.',
    },
    max_iter: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1000, description: 'Logistic regression L-BFGS iteration cap.' },
    tol: { type: 'number', exclusiveMinimum: 0, default: 1e-4, description: 'Logistic regression tolerance on the largest gradient entry (scikit-learn tol).' },
    small_loss_source: sourceEnum('small-loss: which probabilities give the cross-entropy.', 'logreg'),
    small_loss_threshold: fraction('small-loss: keep when the posterior of the low-loss GMM component ≥ this.', 0.5),
    small_loss_per_class: { type: 'boolean', default: false, description: 'small-loss: one GMM per given class instead of one overall (DivideMix).' },
    k: { type: 'integer', minimum: 1, maximum: 10_000, default: 10, description: 'knn: neighbours per sample (cosine, self excluded).' },
    knn_threshold: fraction('knn: keep when this fraction of the neighbours share the given label.', 0.5),
    cl_source: sourceEnum('confident-learning: which probabilities (logreg ones are out-of-fold).', 'logreg'),
    cl_folds: { type: 'integer', minimum: 2, maximum: 100, default: 5, description: 'confident-learning: folds of the out-of-fold logistic regression.' },
    feature_selection: {
      enum: ['gmm', 'top-fraction'], default: 'gmm',
      description: 'feature-distance: per-class GMM on g (keep the close component) or the top fraction of each class.',
    },
    feature_threshold: fraction('feature-distance (gmm): keep when the posterior of the close component ≥ this.', 0.5),
    feature_fraction: fraction('feature-distance (top-fraction): fraction of each class to keep.', 0.5),
    gmm_max_iter: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 100, description: 'GMM: EM iterations at most.' },
    gmm_tol: { type: 'number', minimum: 0, default: 1e-3, description: 'GMM: stop when the mean log-likelihood changes less than this.' },
    gmm_reg_covar: { type: 'number', minimum: 0, default: 1e-6, description: 'GMM: added to each variance.' },
  },
} as const;

/** Named score columns and sub-masks of one method, and its mask. */
interface MethodOutput {
  mask: Uint8Array;
  scores: Array<{ name: string; values: ArrayLike<number> }>;
  submasks: Array<{ name: string; mask: Uint8Array }>;
  info: Record<string, Json>;
}

/** Inputs and lazily computed probability sources shared by the methods of one run. */
class SelectionContext {
  /** Probabilities computed so far, by source ("zeroshot", "logreg/<folds>"), in the order they were first used. */
  readonly cache = new Map<string, Float32Array>();
  readonly logregFits: Record<string, Json> = {};
  readonly numClasses: number;

  constructor(
    readonly params: SelectParams,
    readonly features: FloatTensor,
    readonly labels: Int32Array,
    readonly classNames: readonly string[],
    readonly textFeatures: FloatTensor | undefined,
    readonly seed: number,
    readonly ctx: NodeContext<SelectParams>,
  ) {
    this.numClasses = classNames.length;
  }

  get gmm(): Gmm1dOptions {
    return { maxIter: this.params.gmm_max_iter, tol: this.params.gmm_tol, regCovar: this.params.gmm_reg_covar };
  }

  /** p(k|i) from a source; logreg with `folds` (1 = in-sample). */
  probs(source: SourceName, folds = this.params.oof_folds, why = ''): Float32Array {
    const key = source === 'zeroshot' ? 'zeroshot' : `logreg/${folds}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    let probs: Float32Array;
    if (source === 'zeroshot') {
      if (!this.textFeatures) {
        throw new SelectInputError(`input "text_features" (float32 [K, P, D]) is required: ${why} uses zero-shot probabilities`);
      }
      if (this.textFeatures.shape[0] !== this.numClasses) {
        throw new SelectInputError(`input "text_features" has ${this.textFeatures.shape[0]} classes, "classes" has ${this.numClasses}`);
      }
      probs = zeroShotProbs(this.features, this.textFeatures, {
        aggregation: this.params.aggregation, temperature: this.params.temperature ?? undefined,
      });
    } else {
      const p = this.params;
      const opts: LogRegOptions = { C: p.C, classWeight: p.class_weight, maxIter: p.max_iter, tol: p.tol };
      const started = Date.now();
      const result: OutOfFoldResult = logisticProbabilities(this.features, this.labels, this.numClasses, {
        ...opts, folds, seed: this.seed, onFold: (done, total) => this.ctx.progress(done, total, 'folds'),
      });
      this.ctx.log(`logistic regression (${folds === 1 ? 'in-sample' : `${folds}-fold out-of-fold`}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      this.logregFits[key] = result.fits.map((f) => ({ ...f, loss: finite(f.loss), gradNorm: finite(f.gradNorm) }));
      probs = result.probs;
    }
    this.cache.set(key, probs);
    return probs;
  }
}

/** Probability matrices [N, K] stacked into [S, N, K]. */
function stackProbs(all: readonly Float32Array[], n: number, k: number): Tensor<'float32'> {
  const out = new Float32Array(all.length * n * k);
  all.forEach((p, i) => out.set(p, i * n * k));
  return tensor('float32', [all.length, n, k], out);
}

function givenProbability(probs: Float32Array, labels: Int32Array, k: number): Float32Array {
  return Float32Array.from(labels, (y, i) => probs[i * k + y]);
}

function runMethod(method: SelectMethod, sc: SelectionContext): MethodOutput {
  const { params: p, labels, numClasses: K } = sc;
  switch (method) {
    case 'clipcleaner': {
      const sources: ProbabilitySource[] = p.clipcleaner_sources.map((name) => ({ name, probs: sc.probs(name, p.oof_folds, 'clipcleaner') }));
      const r = clipCleanerSelect(sources, labels, K, {
        gmmThreshold: p.gmm_threshold, consistencyThreshold: p.consistency_threshold, criteria: p.clipcleaner_criteria, gmm: sc.gmm,
      });
      return {
        mask: r.mask,
        scores: r.sources.flatMap((s) => [
          { name: `${s.name}.loss_score`, values: s.lossScore },
          { name: `${s.name}.gmm_posterior`, values: s.gmmPosterior },
          { name: `${s.name}.consistency`, values: s.consistency },
        ]),
        submasks: [
          ...r.sources.flatMap((s) => [{ name: `${s.name}.gmm`, mask: s.gmmMask }, { name: `${s.name}.consistency`, mask: s.consistencyMask }]),
          { name: 'intersection', mask: r.intersection },
          { name: 'refill', mask: r.refilled },
        ],
        info: { refilled_classes: r.refilledClasses.map((c) => sc.classNames[c]), intersection_size: countTrue(r.intersection), refilled: countTrue(r.refilled) },
      };
    }
    case 'zeroshot-agreement':
    case 'logreg-agreement': {
      const source: SourceName = method === 'zeroshot-agreement' ? 'zeroshot' : 'logreg';
      const probs = sc.probs(source, p.oof_folds, method);
      return { mask: agreementMask(probs, labels, K), scores: [{ name: 'p_given', values: givenProbability(probs, labels, K) }], submasks: [], info: {} };
    }
    case 'small-loss': {
      const r = smallLossSelect(sc.probs(p.small_loss_source, p.oof_folds, 'small-loss'), labels, K, {
        threshold: p.small_loss_threshold, perClass: p.small_loss_per_class, gmm: sc.gmm,
      });
      return { mask: r.mask, scores: [{ name: 'loss', values: r.loss }, { name: 'clean_posterior', values: r.cleanPosterior }], submasks: [], info: { source: p.small_loss_source } };
    }
    case 'knn': {
      const r = knnAgreement(sc.features, labels, K, {
        k: p.k, threshold: p.knn_threshold, onProgress: (done, total) => sc.ctx.progress(done, total, 'samples'),
      });
      return { mask: r.mask, scores: [{ name: 'agreement', values: r.agreement }], submasks: [], info: { k: p.k } };
    }
    case 'confident-learning': {
      const probs = sc.probs(p.cl_source, p.cl_source === 'logreg' ? p.cl_folds : 1, 'confident-learning');
      const r = confidentLearning(probs, labels, K);
      let offDiagonal = 0;
      for (let t = 0; t < K; t++) for (let g = 0; g < K; g++) if (t !== g) offDiagonal += r.pruneCounts[t * K + g];
      return {
        mask: r.mask, scores: [{ name: 'margin', values: r.margin }], submasks: [],
        info: { source: p.cl_source, estimated_label_errors: offDiagonal, thresholds: Array.from(r.thresholds, finite) },
      };
    }
    case 'feature-distance': {
      const r = featureDistanceSelect(sc.features, labels, K, p.feature_selection === 'gmm'
        ? { mode: 'gmm', threshold: p.feature_threshold, gmm: sc.gmm }
        : { mode: 'top-fraction', fraction: p.feature_fraction });
      return {
        mask: r.mask,
        scores: [{ name: 'distance', values: r.distance }, { name: 'g', values: r.score }, { name: 'posterior', values: r.posterior }],
        submasks: [], info: { selection: p.feature_selection },
      };
    }
  }
}

function finite(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

function tensorInput<D extends DType>(ctx: NodeContext<SelectParams>, name: string, dtype: D, rank: number): Tensor<D> | undefined {
  return optionalTensor(ctx.inputs, name, dtype, rank, SelectInputError);
}


function qualityJson(mask: Uint8Array, noisy: Int32Array, truth: Int32Array): Json {
  const q = selectionQuality(mask, noisy, truth);
  return {
    precision: finite(q.precision), recall: finite(q.recall), f1: finite(q.f1),
    true_positives: q.truePositives, false_positives: q.falsePositives, false_negatives: q.falseNegatives, true_negatives: q.trueNegatives,
  };
}

export default defineNode<SelectParams>({
  type: 'select',
  version: '2',
  description: 'Selects the samples whose noisy labels look clean: CLIPCleaner, or a baseline (zero-shot/logreg agreement, small-loss, kNN, confident learning, feature distance), or several combined.',
  paramsSchema,
  ports: {
    inputs: {
      features: { kind: 'tensor', dtype: 'float32', rank: 2, description: 'L2-normalised image features [N, D].' },
      labels: { kind: 'tensor', dtype: 'int32', rank: 1, description: 'Given (noisy) labels [N].' },
      text_features: { kind: 'tensor', dtype: 'float32', rank: 3, optional: true, description: 'Prompt embeddings [K, P, D]; required by zero-shot based methods.' },
      true_labels: { kind: 'tensor', dtype: 'int32', rank: 1, optional: true, description: 'True labels [N], for precision/recall/F1 in the report.' },
      classes: { kind: 'json', description: 'Class names (string[]); K is its length.' },
    },
    outputs: {
      mask: { kind: 'tensor', dtype: 'bool', rank: 1, description: 'Selected samples [N].' },
      scores: { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Sub-scores [N, S]; column names in report.score_columns.' },
      submasks: { kind: 'tensor', dtype: 'bool', rank: 2, description: 'Sub-masks [N, M]; column names in report.submask_columns.' },
      probs: {
        kind: 'tensor', dtype: 'float32', rank: 3,
        description: 'The class probabilities the methods used [S, N, K], one per source (zero-shot, logistic regression with its folds); names in report.probs_sources (S = 0 when none was used).',
      },
      report: { kind: 'json', description: 'Sizes, per-class counts, column names, solver details, and quality when true labels are connected.' },
    },
  },
  resources: { cpus: 1, memory: '2G' },
  async run(ctx) {
    const p = ctx.params;
    const classes = requiredClassNames(ctx.inputs, SelectInputError);
    const K = classes.length;
    const features = tensorInput(ctx, 'features', 'float32', 2);
    const labelsT = tensorInput(ctx, 'labels', 'int32', 1);
    if (!features || !labelsT) throw new SelectInputError('inputs "features" and "labels" are required');
    const n = features.shape[0];
    const labels = labelsT.data;
    if (labels.length !== n) throw new SelectInputError(`input "labels" has ${labels.length} entries, "features" has N = ${n} rows`);
    checkLabels(labels, K, 'input "labels"');
    const textFeatures = tensorInput(ctx, 'text_features', 'float32', 3);
    const trueLabels = tensorInput(ctx, 'true_labels', 'int32', 1)?.data;
    if (trueLabels && trueLabels.length !== n) throw new SelectInputError(`input "true_labels" has ${trueLabels.length} entries, expected N = ${n}`);

    let methods: SelectMethod[];
    if (p.method === 'combine') {
      if (!p.combine) throw new SelectInputError('method "combine" needs the "combine" param ({mode, methods, min_votes})');
      if (p.combine.mode === 'vote' && p.combine.min_votes === undefined) throw new SelectInputError('combine mode "vote" needs combine.min_votes');
      methods = p.combine.methods;
    } else {
      if (p.combine) throw new SelectInputError(`param "combine" is only read with method: combine (method is "${p.method}")`);
      methods = [p.method];
    }

    const sc = new SelectionContext(p, features, labels, classes, textFeatures, ctx.seed, ctx);
    const outputs: Array<{ method: SelectMethod; out: MethodOutput }> = [];
    for (const method of methods) {
      if (ctx.signal.aborted) throw new Error('select aborted');
      const started = Date.now();
      let out: MethodOutput;
      try {
        out = runMethod(method, sc);
      } catch (e) {
        if (e instanceof MethodInputError) throw new SelectInputError(`${method}: ${e.message}`);
        throw e;
      }
      ctx.log(`${method}: kept ${countTrue(out.mask)} of ${n} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      outputs.push({ method, out });
    }
    const mask = p.method === 'combine'
      ? combineMasks(outputs.map((o) => o.out.mask), p.combine!.mode, p.combine!.min_votes)
      : outputs[0].out.mask;

    // Columns: "<method>.<name>"; every method also contributes its own final mask as "<method>".
    const scoreCols = outputs.flatMap(({ method, out }) => out.scores.map((s) => ({ name: `${method}.${s.name}`, values: s.values })));
    const maskCols = outputs.flatMap(({ method, out }) => [
      ...out.submasks.map((s) => ({ name: `${method}.${s.name}`, mask: s.mask })),
      { name: method, mask: out.mask },
    ]);
    const scores = new Float32Array(n * scoreCols.length);
    scoreCols.forEach((col, j) => {
      for (let i = 0; i < n; i++) scores[i * scoreCols.length + j] = col.values[i];
    });
    const submasks = new Uint8Array(n * maskCols.length);
    maskCols.forEach((col, j) => {
      for (let i = 0; i < n; i++) submasks[i * maskCols.length + j] = col.mask[i];
    });

    const given = perClassCounts(labels, K);
    const kept = perClassCounts(labels, K, mask);
    const report: Record<string, Json> = {
      method: p.method,
      methods,
      num_samples: n,
      num_selected: countTrue(mask),
      selected_fraction: n > 0 ? countTrue(mask) / n : null,
      per_class: classes.map((name, c) => ({ class: name, given: given[c], selected: kept[c] })),
      score_columns: scoreCols.map((c) => c.name),
      submask_columns: maskCols.map((c) => c.name),
      submask_sizes: Object.fromEntries(maskCols.map((c) => [c.name, countTrue(c.mask)])),
      details: Object.fromEntries(outputs.map(({ method, out }) => [method, out.info])),
      logistic_regression: sc.logregFits,
      probs_sources: [...sc.cache.keys()],
    };
    if (p.method === 'combine') report.combine = { mode: p.combine!.mode, min_votes: p.combine!.min_votes ?? null };
    if (trueLabels) {
      report.quality = qualityJson(mask, labels, trueLabels);
      report.submask_quality = Object.fromEntries(maskCols.map((c) => [c.name, qualityJson(c.mask, labels, trueLabels)]));
      const cleanSelected = perClassCounts(labels, K, Uint8Array.from(labels, (y, i) => (mask[i] && y === trueLabels[i] ? 1 : 0)));
      (report.per_class as Array<Record<string, Json>>).forEach((row, c) => { row.selected_clean = cleanSelected[c]; });
      const q = report.quality as Record<string, Json>;
      ctx.log(`selection precision ${String(q.precision)}, recall ${String(q.recall)}, F1 ${String(q.f1)}`);
    }
    return {
      mask: tensor('bool', [n], mask),
      scores: tensor('float32', [n, scoreCols.length], scores),
      submasks: tensor('bool', [n, maskCols.length], submasks),
      probs: stackProbs([...sc.cache.values()], n, K),
      report,
    };
  },
});

// CoOp prompt tuning through CLIP's frozen text encoder (Zhou et al. 2022), with PTNL's GCE loss,
// a prompt matrix of `blocks` independent contexts (robust similarity's decision makers) and
// robust-similarity sample filtering.
//
// Parameters: context vectors ctx [m, Kc, n, W] (m blocks; Kc = K with class-specific context, else
// 1). Each step builds the m·K prompts' input embeddings (fixed token embeddings with the context
// spliced into their slots, see layout.ts), runs the text model up to the longest EOT, normalises
// the text features t_jk and scores the batch's (unit) image features: logits_j = s·f·t_jᵀ with s
// the logit scale. Loss = mean over blocks and samples of w_i·L(logits_j,i, y_i), L = CE or GCE(q).
// Update: torch SGD with momentum and L2 weight decay (as `train`), learning rate from the same
// schedules (cosine, linear warm-up). Predictions ensemble the blocks: the mean of their softmaxes
// (`probs`) or the softmax of their mean logits (`logits`).
//
// Robust similarity (each epoch e, 0-based, before its steps): ỹ_i = the ensemble's probability of
// sample i's label under the current context; g_i = the feature-distance score (−mean cosine
// distance to the samples of its class, min-max normalised per class; selection-baselines.ts);
// G_i = α·ỹ_i + (1 − α)·g_i with α = min(1, a·e^{e/b}). Per class, the lowest `drop` fraction of G
// (or the samples with G < threshold, at least one kept per class) sit out the epoch's loss.
import type * as tfjs from '@tensorflow/tfjs';
import type { ClipTextModel } from '../../clip/text-model.js';
import { createRng, type Rng } from '../../random/rng.js';
import { l2NormalizeRows } from '../linalg.js';
import { mixfix } from '../mixfix.js';
import { featureDistanceScores } from '../selection-baselines.js';
import type { Tf } from '../train/backend.js';
import { checkLoss, perSampleLoss, type LossConfig } from '../train/losses.js';
import { epochOrder, type SamplerKind } from '../train/sampler.js';
import { checkSchedule, learningRate, type LrSchedule } from '../train/schedule.js';
import { setAccuracy, type MixfixCounts, type MixfixThresholds } from '../train/trainer.js';
import type { PromptLayout } from './layout.js';

export type EnsembleRule = 'probs' | 'logits';

export type RobustFilter = { kind: 'fraction'; drop: number } | { kind: 'threshold'; value: number };

export interface RobustSimilarityOptions {
  /** α = min(1, a·e^{epoch/b}). */
  a: number;
  b: number;
  filter: RobustFilter;
}

export interface PromptTuneData {
  /** [N, E] image features (normalised here). */
  features: Float32Array;
  numSamples: number;
  dim: number;
  /** [N] labels in [0, K) on the training set. */
  labels: Int32Array;
  /** [N] 0/1 training set (and MixFix's initial selection); all when absent. */
  trainMask?: Uint8Array;
  sampleWeights?: Float32Array;
  /** [N] true labels, for the selection precision of robust similarity. */
  trueLabels?: Int32Array;
}

export interface PromptTuneOptions {
  layout: PromptLayout;
  /** Initial context [n, W] (e.g. the token embeddings of "a photo of a"), or null for N(0, initStd²). */
  ctxInit: Float32Array | null;
  initStd: number;
  csc: boolean;
  blocks: number;
  ensemble: EnsembleRule;
  logitScale: number;
  loss: LossConfig;
  sampler: SamplerKind;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  schedule: LrSchedule;
  warmupEpochs: number;
  mixfix: MixfixThresholds | null;
  robust: RobustSimilarityOptions | null;
  seed: number;
  onEpoch?: (record: PromptEpochRecord) => void;
  signal?: AbortSignal;
}

export interface PromptEpochRecord {
  epoch: number;
  loss: number;
  /** Accuracy of the end-of-epoch ensemble on the set this epoch trained on (its labels). */
  accuracy: number;
  lr: number;
  /** Samples in the epoch's loss (after robust filtering). */
  setSize: number;
  /** Robust similarity: α, samples kept, and their precision against the true labels (when given). */
  alpha?: number;
  kept?: number;
  precision?: number;
  mixfix?: MixfixCounts;
}

export interface PromptTuneResult {
  /** [m, Kc, n, W]. */
  context: Float32Array;
  contextShape: [number, number, number, number];
  /** [K, m, E] normalised class text features of the final context (block j of class k at row k·m + j). */
  textFeatures: Float32Array;
  trainProbs: Float32Array;
  /** Samples in the last epoch's loss (the training set, minus what robust similarity left out). */
  lastSet: Uint8Array;
  initialAccuracy: number;
  history: PromptEpochRecord[];
}

export class PromptTuneError extends Error {
  override name = 'PromptTuneError';
}

const PREDICT_CHUNK = 2048;
/** Variable names must be unique within a tfjs engine. */
let learnerCount = 0;

/** The prompt learner: builds the m·K prompts from the context and scores features against them. */
export class PromptLearner {
  readonly numClasses: number;
  readonly ctxRows: number;
  readonly ctx: tfjs.Variable<tfjs.Rank.R2>;
  private readonly fixed: tfjs.Tensor3D;
  private readonly index: tfjs.Tensor2D;
  private readonly eot: Int32Array;
  private readonly zeroRow: tfjs.Tensor2D;

  constructor(
    private readonly tf: Tf,
    private readonly model: ClipTextModel,
    readonly layout: PromptLayout,
    readonly blocks: number,
    readonly csc: boolean,
    init: Float32Array,
  ) {
    const { numClasses: k, nCtx, length, ids, slot } = layout;
    const width = model.config.width;
    this.numClasses = k;
    const kc = csc ? k : 1;
    this.ctxRows = blocks * kc * nCtx;
    if (init.length !== this.ctxRows * width) throw new PromptTuneError(`context init has ${init.length} values, expected ${this.ctxRows}·${width}`);
    if (nCtx < 1) throw new PromptTuneError('n_ctx must be at least 1');
    this.ctx = tf.variable(tf.tensor2d(init, [this.ctxRows, width]), true, `prompt_ctx_${learnerCount++}`) as tfjs.Variable<tfjs.Rank.R2>;
    // Fixed token embeddings with the context slots zeroed, repeated for each block.
    const keepMask = Float32Array.from(slot, (s) => (s < 0 ? 1 : 0));
    this.fixed = tf.tidy(() => {
      const emb = tf.mul(model.embedTokens(ids, k, length), tf.tensor3d(keepMask, [k, length, 1]));
      return tf.tile(emb, [blocks, 1, 1]) as tfjs.Tensor3D;
    });
    // For each (block, class, position): its context row, or the appended zero row.
    const zero = this.ctxRows;
    const index = new Int32Array(blocks * k * length);
    for (let j = 0; j < blocks; j++) {
      for (let c = 0; c < k; c++) {
        for (let t = 0; t < length; t++) {
          const s = slot[c * length + t];
          index[(j * k + c) * length + t] = s < 0 ? zero : (j * kc + (csc ? c : 0)) * nCtx + s;
        }
      }
    }
    // The splice as a matrix product with a one-hot [m·K·L, rows + 1] selection (gather's gradient,
    // UnsortedSegmentSum, is missing on the wasm backend).
    const select = new Float32Array(index.length * (this.ctxRows + 1));
    index.forEach((r, i) => (select[i * (this.ctxRows + 1) + r] = 1));
    this.index = tf.tensor2d(select, [index.length, this.ctxRows + 1]);
    this.zeroRow = tf.zeros([1, width]);
    this.eot = new Int32Array(blocks * k);
    for (let j = 0; j < blocks; j++) this.eot.set(layout.eot, j * k);
  }

  /** Normalised text features [m·K, E] (row j·K + k) of the current context. */
  textFeatures(): tfjs.Tensor2D {
    const tf = this.tf;
    const { length } = this.layout;
    const width = this.model.config.width;
    return tf.tidy(() => {
      const rows = tf.concat([this.ctx, this.zeroRow], 0);
      const spliced = tf.reshape(tf.matMul(this.index, rows), [this.blocks * this.numClasses, length, width]);
      const t = this.model.forwardEmbeddings(tf.add(this.fixed, spliced) as tfjs.Tensor3D, this.eot);
      return tf.div(t, tf.norm(t, 'euclidean', 1, true)) as tfjs.Tensor2D;
    });
  }

  /** Logits [m, B, K] of unit features x [B, E] against text features [m·K, E]. */
  logits(x: tfjs.Tensor2D, text: tfjs.Tensor2D, scale: number): tfjs.Tensor3D {
    const tf = this.tf;
    const b = x.shape[0];
    return tf.tidy(() => tf.transpose(tf.reshape(tf.mul(tf.matMul(x, text, false, true), scale), [b, this.blocks, this.numClasses]), [1, 0, 2]) as tfjs.Tensor3D);
  }

  /** Ensemble probabilities [B, K] from block logits [m, B, K]. */
  ensemble(logits: tfjs.Tensor3D, rule: EnsembleRule): tfjs.Tensor2D {
    const tf = this.tf;
    return tf.tidy(() => (rule === 'logits' ? tf.softmax(tf.mean(logits, 0)) : tf.mean(tf.softmax(logits), 0)) as tfjs.Tensor2D);
  }

  /** Ensemble probabilities [n, K] of unit features [n, E] under the current context. */
  predict(features: Float32Array, n: number, scale: number, rule: EnsembleRule): Float32Array {
    const tf = this.tf;
    const k = this.numClasses;
    const e = this.model.config.embedDim;
    const text = this.textFeatures();
    try {
      const out = new Float32Array(n * k);
      for (let start = 0; start < n; start += PREDICT_CHUNK) {
        const rows = Math.min(PREDICT_CHUNK, n - start);
        const probs = tf.tidy(() => this.ensemble(this.logits(tf.tensor2d(features.subarray(start * e, (start + rows) * e), [rows, e]), text, scale), rule));
        out.set(probs.dataSync(), start * k);
        probs.dispose();
      }
      return out;
    } finally {
      text.dispose();
    }
  }

  dispose(): void {
    for (const t of [this.ctx, this.fixed, this.index, this.zeroRow]) t.dispose();
  }
}

/** The initial context [m·Kc·n, W]: the init words (block 0 exactly, later blocks plus N(0, std²)), or N(0, std²). */
export function initialContext(ctxInit: Float32Array | null, blocks: number, kc: number, nCtx: number, width: number, std: number, rng: Rng): Float32Array {
  const per = nCtx * width;
  if (ctxInit && ctxInit.length !== per) throw new PromptTuneError(`ctx_init has ${ctxInit.length / width} tokens, n_ctx is ${nCtx}`);
  const out = new Float32Array(blocks * kc * per);
  for (let j = 0; j < blocks; j++) {
    const r = rng.fork(`block-${j}`);
    for (let c = 0; c < kc; c++) {
      const base = (j * kc + c) * per;
      for (let i = 0; i < per; i++) {
        const noise = !ctxInit || j > 0 ? r.normal() * std : 0;
        out[base + i] = (ctxInit ? ctxInit[i] : 0) + noise;
      }
    }
  }
  return out;
}

/** α of robust similarity at epoch e (0-based). */
export function robustAlpha(a: number, b: number, epoch: number): number {
  return Math.min(1, a * Math.exp(epoch / b));
}

export interface RobustSelection {
  keep: Uint8Array;
  score: Float64Array;
  kept: number;
}

/**
 * Robust similarity's filter over the set `mask`: G = α·ỹ + (1 − α)·g, per class the lowest `drop`
 * fraction (or G < threshold, keeping each class's best) left out. `probs` [N, K] give ỹ.
 */
export function robustSelect(
  features: Float32Array, dim: number, probs: Float32Array, labels: Int32Array, mask: Uint8Array, numClasses: number, alpha: number, filter: RobustFilter,
): RobustSelection {
  const members: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i]) members.push(i);
  const sub = new Float32Array(members.length * dim);
  const subLabels = new Int32Array(members.length);
  members.forEach((i, r) => {
    sub.set(features.subarray(i * dim, (i + 1) * dim), r * dim);
    subLabels[r] = labels[i];
  });
  const g = featureDistanceScores({ data: sub, shape: [members.length, dim] }, subLabels, numClasses).score;
  const score = new Float64Array(mask.length).fill(Number.NaN);
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  members.forEach((i, r) => {
    score[i] = alpha * probs[i * numClasses + labels[i]] + (1 - alpha) * g[r];
    byClass[labels[i]].push(i);
  });
  const keep = new Uint8Array(mask.length);
  let kept = 0;
  for (const idx of byClass) {
    if (idx.length === 0) continue;
    // Best first; ties by index, so the choice is deterministic.
    idx.sort((p, q) => score[q] - score[p] || p - q);
    const count = filter.kind === 'fraction'
      ? Math.max(1, idx.length - Math.floor(filter.drop * idx.length))
      : Math.max(1, idx.filter((i) => score[i] >= filter.value).length);
    for (let r = 0; r < count; r++) keep[idx[r]] = 1;
    kept += count;
  }
  return { keep, score, kept };
}

function checkInputs(data: PromptTuneData, o: PromptTuneOptions, model: ClipTextModel): void {
  const { numSamples: n, dim } = data;
  const k = o.layout.numClasses;
  if (dim !== model.config.embedDim) throw new PromptTuneError(`features have D = ${dim}, the text model's embedding dimension is ${model.config.embedDim}`);
  if (data.features.length !== n * dim) throw new PromptTuneError(`features have ${data.features.length} values, expected ${n}·${dim}`);
  if (data.labels.length !== n) throw new PromptTuneError(`labels have length ${data.labels.length}, expected ${n}`);
  for (let i = 0; i < n; i++) {
    if (data.trainMask && !data.trainMask[i]) continue;
    if (!(data.labels[i] >= 0 && data.labels[i] < k)) throw new PromptTuneError(`labels[${i}] = ${data.labels[i]} is in the training set but outside [0, ${k})`);
  }
  if (!Number.isInteger(o.blocks) || o.blocks < 1) throw new PromptTuneError(`blocks must be a positive integer, got ${o.blocks}`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new PromptTuneError(`batch_size must be a positive integer, got ${o.batchSize}`);
  if (!Number.isInteger(o.epochs) || o.epochs < 0) throw new PromptTuneError(`epochs must be an integer ≥ 0, got ${o.epochs}`);
  if (!(o.logitScale > 0)) throw new PromptTuneError(`logit scale must be > 0, got ${o.logitScale}`);
  if (o.robust && !(o.robust.a > 0 && o.robust.b > 0)) throw new PromptTuneError(`robust similarity needs a > 0 and b > 0`);
  if (o.robust?.filter.kind === 'fraction' && !(o.robust.filter.drop >= 0 && o.robust.filter.drop < 1)) {
    throw new PromptTuneError(`robust similarity drop must be in [0, 1), got ${o.robust.filter.drop}`);
  }
  checkLoss(o.loss);
  if (o.epochs > 0) checkSchedule({ baseLr: o.lr, epochs: o.epochs, warmupEpochs: o.warmupEpochs, schedule: o.schedule });
}

export function promptTune(tf: Tf, model: ClipTextModel, data: PromptTuneData, o: PromptTuneOptions): PromptTuneResult {
  checkInputs(data, o, model);
  const { numSamples: n, dim } = data;
  const k = o.layout.numClasses;
  const width = model.config.width;
  const kc = o.csc ? k : 1;
  const rng = createRng(o.seed, 'prompt-tune');
  const orderRng = rng.fork('order');
  const features = l2NormalizeRows(data.features, n, dim);
  const init = initialContext(o.ctxInit, o.blocks, kc, o.layout.nCtx, width, o.initStd, rng.fork('init'));
  const learner = new PromptLearner(tf, model, o.layout, o.blocks, o.csc, init);
  const momentum = tf.variable(tf.zerosLike(learner.ctx), false);
  const schedule = { baseLr: o.lr, epochs: o.epochs, warmupEpochs: o.warmupEpochs, schedule: o.schedule };
  try {
    const initialSelection = data.trainMask ? Uint8Array.from(data.trainMask) : new Uint8Array(n).fill(1);
    let labels: Int32Array = Int32Array.from(data.labels);
    let mask: Uint8Array = initialSelection;
    let probs = learner.predict(features, n, o.logitScale, o.ensemble);
    const initialAccuracy = setAccuracy(probs, k, labels, mask);
    const history: PromptEpochRecord[] = [];
    let lastSet: Uint8Array = mask;
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      let set: Uint8Array = mask;
      const record: Partial<PromptEpochRecord> = {};
      if (o.robust) {
        const alpha = robustAlpha(o.robust.a, o.robust.b, epoch);
        const sel = robustSelect(features, dim, probs, labels, mask, k, alpha, o.robust.filter);
        set = sel.keep;
        record.alpha = alpha;
        record.kept = sel.kept;
        if (data.trueLabels) {
          let clean = 0;
          for (let i = 0; i < n; i++) if (set[i] && labels[i] === data.trueLabels[i]) clean++;
          record.precision = sel.kept > 0 ? clean / sel.kept : 0;
        }
      }
      lastSet = set;
      const members = Int32Array.from({ length: n }, (_, i) => i).filter((i) => set[i] === 1);
      if (members.length === 0) throw new PromptTuneError(`epoch ${epoch + 1}: the training set is empty`);
      const order = epochOrder(members, labels, k, o.sampler, orderRng);
      const batches = Math.ceil(order.length / o.batchSize);
      let lossSum = 0;
      let firstLr = 0;
      for (let b = 0; b < batches; b++) {
        if (o.signal?.aborted) throw o.signal.reason ?? new PromptTuneError('prompt tuning aborted');
        const lr = learningRate(schedule, epoch, b, batches);
        if (b === 0) firstLr = lr;
        const idx = order.subarray(b * o.batchSize, Math.min(order.length, (b + 1) * o.batchSize));
        lossSum += promptStep(tf, learner, momentum, features, dim, labels, data.sampleWeights, idx, o, lr) * idx.length;
      }
      if (!Number.isFinite(lossSum)) throw new PromptTuneError(`epoch ${epoch + 1}: the training loss is not finite; lower lr (${o.lr})?`);
      probs = learner.predict(features, n, o.logitScale, o.ensemble);
      const done: PromptEpochRecord = {
        epoch: epoch + 1, loss: lossSum / order.length, accuracy: setAccuracy(probs, k, labels, set), lr: firstLr, setSize: members.length, ...record,
      };
      if (o.mixfix) {
        const next = mixfix(probs, k, data.labels, initialSelection, o.mixfix);
        labels = next.labels;
        mask = next.trainMask;
        done.mixfix = { ...next.counts };
      }
      history.push(done);
      o.onEpoch?.(done);
    }
    // [m·K, E] (block-major) → [K, m, E].
    const text = tf.tidy(() => {
      const t = learner.textFeatures();
      return tf.transpose(tf.reshape(t, [o.blocks, k, model.config.embedDim]), [1, 0, 2]);
    });
    const textFeatures = text.dataSync() as Float32Array;
    text.dispose();
    return {
      context: learner.ctx.dataSync() as Float32Array,
      contextShape: [o.blocks, kc, o.layout.nCtx, width],
      textFeatures,
      trainProbs: probs,
      lastSet,
      initialAccuracy,
      history,
    };
  } finally {
    momentum.dispose();
    learner.dispose();
  }
}

/** One SGD step of the prompt learner on the batch `idx` (see the header); returns the batch loss. */
export function promptStep(
  tf: Tf, learner: PromptLearner, momentum: tfjs.Variable, features: Float32Array, dim: number, labels: Int32Array,
  weights: Float32Array | undefined, idx: Int32Array, o: PromptTuneOptions, lr: number,
): number {
  const b = idx.length;
  const k = learner.numClasses;
  const m = learner.blocks;
  const x = new Float32Array(b * dim);
  const y = new Float32Array(m * b * k);
  const w = new Float32Array(m * b);
  idx.forEach((i, r) => {
    x.set(features.subarray(i * dim, (i + 1) * dim), r * dim);
    for (let j = 0; j < m; j++) {
      y[(j * b + r) * k + labels[i]] = 1;
      w[j * b + r] = weights ? weights[i] : 1;
    }
  });
  const value = tf.tidy(() => {
    const xs = tf.tensor2d(x, [b, dim]);
    const { value: loss, grads } = tf.variableGrads(() => {
      const logits = tf.reshape(learner.logits(xs, learner.textFeatures(), o.logitScale), [m * b, k]) as tfjs.Tensor2D;
      return tf.mean(tf.mul(perSampleLoss(tf, logits, tf.tensor2d(y, [m * b, k]), o.loss), tf.tensor1d(w))) as tfjs.Scalar;
    }, [learner.ctx]);
    let g = grads[learner.ctx.name];
    if (o.weightDecay > 0) g = tf.add(g, tf.mul(learner.ctx, o.weightDecay));
    const mom = tf.add(tf.mul(momentum, o.momentum), g);
    momentum.assign(mom);
    learner.ctx.assign(tf.sub(learner.ctx, tf.mul(mom, lr)));
    return loss;
  });
  const out = value.dataSync()[0];
  value.dispose();
  return out;
}


/**
 * Ensemble probabilities [n, K] of features [n, E] (normalised here) against fixed class text
 * features [K, m, E] (the learned prompts' output), as the learner predicts.
 */
export function predictWithText(
  textFeatures: Float32Array, numClasses: number, blocks: number, features: Float32Array, n: number, logitScale: number, rule: EnsembleRule,
): Float32Array {
  const k = numClasses;
  const e = textFeatures.length / (k * blocks);
  if (!Number.isInteger(e) || features.length !== n * e) throw new PromptTuneError(`features have ${features.length} values, expected ${n}·${e}`);
  const x = l2NormalizeRows(features, n, e);
  const out = new Float32Array(n * k);
  const logits = new Float64Array(blocks * k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < blocks; j++) {
      for (let c = 0; c < k; c++) {
        let s = 0;
        const t = (c * blocks + j) * e;
        for (let q = 0; q < e; q++) s += x[i * e + q] * textFeatures[t + q];
        logits[j * k + c] = logitScale * s;
      }
    }
    const row = new Float64Array(k);
    const softmaxInto = (values: Float64Array, offset: number, weight: number) => {
      let max = -Infinity;
      for (let c = 0; c < k; c++) max = Math.max(max, values[offset + c]);
      let sum = 0;
      for (let c = 0; c < k; c++) sum += Math.exp(values[offset + c] - max);
      for (let c = 0; c < k; c++) row[c] += (weight * Math.exp(values[offset + c] - max)) / sum;
    };
    if (rule === 'logits') {
      const mean = new Float64Array(k);
      for (let j = 0; j < blocks; j++) for (let c = 0; c < k; c++) mean[c] += logits[j * k + c] / blocks;
      softmaxInto(mean, 0, 1);
    } else {
      for (let j = 0; j < blocks; j++) softmaxInto(logits, j * k, 1 / blocks);
    }
    for (let c = 0; c < k; c++) out[i * k + c] = row[c];
  }
  return out;
}

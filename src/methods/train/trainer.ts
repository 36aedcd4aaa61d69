// The training loop: explicit tensors and our own SGD update instead of model.fit, so that every
// step is exactly defined and, with the same seed and backend, bit-for-bit repeatable. All random
// choices (initial weights, batch order, mixup) come from the seeded Rng, never from tf.random.
//
// Per step: loss = mean_i w_i · L(logits_i, y_i) over the batch (w = per-sample weights, 1 when
// absent); then, for every parameter θ with gradient g, torch's SGD with L2 weight decay:
//   g ← g + wd·θ;  m ← μ·m + g  (m starts at 0, so the first m is g, as in torch);  θ ← θ − lr·m.
// Weight decay is applied to every parameter, biases included (torch's default with one group).
//
// After each epoch the model predicts on all N samples; the epoch's accuracy is measured on the
// set it trained on. With MixFix the next epoch's set and labels are recomputed from those
// predictions, the original noisy labels and the initial selection.
//
// The loop (`runTraining`) is shared by two implementations of a head (`HeadEngine`): tfjs with
// automatic differentiation (any head, `trainClassifier`) and the project's own batched linear
// algebra for the linear family (linear-head.ts, `trainLinearHead`); both consume the same draws.
import type * as tfjs from '@tensorflow/tfjs';
import { createRng, type Rng } from '../../random/rng.js';
import { mixfix } from '../mixfix.js';
import { checkContrastive, initialEma, nextEnsembleLabels, supConLoss, type ContrastiveConfig, type EnsembleLabelConfig } from './contrastive.js';
import { fromTensorValues, headLayout, headLogits, initHead, tensorShapes, toTensorValues, type HeadConfig, type HeadLayout } from './heads.js';
import { checkLoss, perSampleLoss, type LossConfig } from './losses.js';
import { mixupLambda } from './mixup.js';
import { epochOrder, type SamplerKind } from './sampler.js';
import { checkSchedule, learningRate, type LrSchedule } from './schedule.js';
import type { Tf } from './tf.js';

export interface TrainData {
  /** [N, D] row-major. */
  features: Float32Array;
  numSamples: number;
  dim: number;
  /** [N] current labels in [0, K) (outside the training set they may be anything, e.g. −1). */
  labels: Int32Array;
  numClasses: number;
  /** [N] 0/1: the training set (and MixFix's initial selection); all samples when absent. */
  trainMask?: Uint8Array;
  /** [N] non-negative multipliers of each sample's loss. */
  sampleWeights?: Float32Array;
}

export interface MixfixThresholds {
  absorb: number;
  relabel: number;
}

export interface TrainOptions {
  head: HeadConfig;
  loss: LossConfig;
  /** Mixup with soft targets, or null for none. */
  mixup: { alpha: number } | null;
  sampler: SamplerKind;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  schedule: LrSchedule;
  warmupEpochs: number;
  /** Recompute the training set with MixFix after every epoch, or null for a fixed set. */
  mixfix: MixfixThresholds | null;
  /** Transductive CLIP's class-conditional contrastive term (contrastive.ts), or null/absent. */
  contrastive?: ContrastiveConfig | null;
  /** Transductive CLIP's ensemble labels, updated after every epoch (contrastive.ts), or null/absent. */
  ensembleLabels?: EnsembleLabelConfig | null;
  seed: number;
  /** Called once after every epoch. */
  onEpoch?: (record: EpochRecord) => void;
  /** Called before every step with its draws (for reference implementations and tests). */
  onStep?: (step: StepDraws) => void;
  signal?: AbortSignal;
}

/** Everything random about one step, and its learning rate. */
export interface StepDraws {
  /** 0-based. */
  epoch: number;
  batch: number;
  /** Sample indices of the batch's rows. */
  indices: Int32Array;
  mix: MixDraw | null;
  lr: number;
}

export interface MixfixCounts {
  selected: number;
  absorbed: number;
  relabelled: number;
  total: number;
}

export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Mean weighted training loss over the epoch's steps (on mixed samples when mixup is on). */
  loss: number;
  /** Accuracy of the end-of-epoch model against the labels of the set this epoch trained on. */
  accuracy: number;
  /** Learning rate of the epoch's first step. */
  lr: number;
  /** Size of the set this epoch trained on. */
  setSize: number;
  /** MixFix counts of the set computed after this epoch (the next epoch's set). */
  mixfix?: MixfixCounts;
}

export interface TrainResult {
  layout: HeadLayout;
  /** The trained parameters, laid out as `layout` says. */
  params: Float32Array;
  /** [N, K] softmax predictions of the final model on all samples. */
  trainProbs: Float32Array;
  /** Accuracy of the initial model on the initial training set (zero-shot for text-init). */
  initialAccuracy: number;
  history: EpochRecord[];
}

export class TrainError extends Error {
  override name = 'TrainError';
}

const PREDICT_CHUNK = 4096;

function checkData(data: TrainData): void {
  const { numSamples: n, dim: d, numClasses: k } = data;
  if (!Number.isInteger(n) || n < 1) throw new TrainError(`need at least one sample, got N = ${n}`);
  if (!Number.isInteger(d) || d < 1) throw new TrainError(`feature dimension must be ≥ 1, got ${d}`);
  if (!Number.isInteger(k) || k < 2) throw new TrainError(`need at least 2 classes, got K = ${k}`);
  if (data.features.length !== n * d) throw new TrainError(`features have ${data.features.length} values, expected N·D = ${n}·${d}`);
  if (data.labels.length !== n) throw new TrainError(`labels have length ${data.labels.length}, expected N = ${n}`);
  if (data.trainMask && data.trainMask.length !== n) throw new TrainError(`mask has length ${data.trainMask.length}, expected N = ${n}`);
  if (data.sampleWeights) {
    if (data.sampleWeights.length !== n) throw new TrainError(`weights have length ${data.sampleWeights.length}, expected N = ${n}`);
    const bad = data.sampleWeights.findIndex((w) => !(w >= 0 && Number.isFinite(w)));
    if (bad >= 0) throw new TrainError(`weights[${bad}] = ${data.sampleWeights[bad]}; weights must be finite and ≥ 0`);
  }
  let size = 0;
  for (let i = 0; i < n; i++) {
    if (data.trainMask && !data.trainMask[i]) continue;
    size++;
    const y = data.labels[i];
    if (!(y >= 0 && y < k)) throw new TrainError(`labels[${i}] = ${y} is in the training set but outside [0, ${k})`);
  }
  if (size === 0) throw new TrainError('the training set (mask) is empty');
}

function checkOptions(o: TrainOptions): void {
  if (!Number.isInteger(o.epochs) || o.epochs < 0) throw new TrainError(`epochs must be an integer ≥ 0, got ${o.epochs}`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new TrainError(`batch_size must be a positive integer, got ${o.batchSize}`);
  if (!(o.momentum >= 0 && o.momentum < 1)) throw new TrainError(`momentum must be in [0, 1), got ${o.momentum}`);
  if (!(o.weightDecay >= 0)) throw new TrainError(`weight_decay must be ≥ 0, got ${o.weightDecay}`);
  if (o.mixup && !(o.mixup.alpha > 0)) throw new TrainError(`mixup alpha must be > 0, got ${o.mixup.alpha}`);
  checkLoss(o.loss);
  checkContrastive(o.contrastive, o.ensembleLabels);
  if (o.mixfix && o.ensembleLabels) throw new TrainError('mixfix and ensemble labels both set the labels after each epoch: choose one');
  if (o.epochs > 0) checkSchedule({ baseLr: o.lr, epochs: o.epochs, warmupEpochs: o.warmupEpochs, schedule: o.schedule });
}

function membersOf(mask: Uint8Array): Int32Array {
  let size = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) size++;
  const members = new Int32Array(size);
  for (let i = 0, j = 0; i < mask.length; i++) if (mask[i]) members[j++] = i;
  return members;
}

/** Fraction of the set's samples whose arg-max prediction equals their label. */
export function setAccuracy(probs: Float32Array, numClasses: number, labels: Int32Array, mask: Uint8Array): number {
  let hit = 0;
  let size = 0;
  for (let i = 0; i < labels.length; i++) {
    if (!mask[i]) continue;
    size++;
    if (argmaxRow(probs, i, numClasses) === labels[i]) hit++;
  }
  return size === 0 ? 0 : hit / size;
}

export function argmaxRow(values: Float32Array, row: number, width: number): number {
  const base = row * width;
  let best = 0;
  for (let k = 1; k < width; k++) if (values[base + k] > values[base + best]) best = k;
  return best;
}

/** Softmax predictions [n, K] of the head whose parameter tensors are `tensors`. */
function predictWith(tf: Tf, layout: HeadLayout, tensors: readonly tfjs.Tensor[], features: Float32Array, n: number): Float32Array {
  const { inputDim: d, numClasses: k } = layout;
  const out = new Float32Array(n * k);
  for (let start = 0; start < n; start += PREDICT_CHUNK) {
    const rows = Math.min(PREDICT_CHUNK, n - start);
    const probs = tf.tidy(() => {
      const x = tf.tensor2d(features.slice(start * d, (start + rows) * d), [rows, d]);
      return tf.softmax(headLogits(tf, layout, tensors, x));
    });
    out.set(probs.dataSync(), start * k);
    probs.dispose();
  }
  return out;
}

/** Softmax predictions [n, K] of a head given its flat parameter vector (e.g. on test features). */
export function predictProbs(tf: Tf, layout: HeadLayout, params: Float32Array, features: Float32Array, n: number): Float32Array {
  if (params.length !== layout.size) throw new TrainError(`parameter vector has ${params.length} values, the ${layout.head} head needs ${layout.size}`);
  if (features.length !== n * layout.inputDim) {
    throw new TrainError(`features have ${features.length} values, expected ${n}·${layout.inputDim} (the head's input dimension)`);
  }
  const shapes = tensorShapes(layout);
  const tensors = toTensorValues(layout, params).map((values, i) => tf.tensor(values, shapes[i]));
  try {
    return predictWith(tf, layout, tensors, features, n);
  } finally {
    for (const t of tensors) t.dispose();
  }
}

/** One step's inputs: features x [B, D], soft targets y [B, K], loss weights w [B] (B = rows). */
export interface Batch {
  x: Float32Array;
  y: Float32Array;
  w: Float32Array;
}

/** One batch's mixup draw: λ and, per row, the row it is mixed with. */
export interface MixDraw {
  lambda: number;
  partner: Int32Array;
}

/** The mixup draw of a batch of `rows` rows (λ first, then the partner permutation). */
export function drawMix(alpha: number, rng: Rng, rows: number): MixDraw {
  return { lambda: mixupLambda(alpha, rng), partner: rng.permutation(rows) };
}

/**
 * Gathers a batch; with mixup, mixes each sample with a partner from a seeded permutation.
 * `into`, when given, is reused (its arrays must hold at least the batch).
 */
export function buildBatch(data: TrainData, labels: Int32Array, indices: Int32Array, mix: MixDraw | null, into?: Batch): Batch {
  const { dim: d, numClasses: k, features } = data;
  const b = indices.length;
  const x = into ? into.x : new Float32Array(b * d);
  const y = into ? into.y : new Float32Array(b * k);
  const w = into ? into.w : new Float32Array(b);
  if (into) y.fill(0, 0, b * k);
  for (let r = 0; r < b; r++) {
    const i = indices[r];
    const wi = data.sampleWeights ? data.sampleWeights[i] : 1;
    if (!mix) {
      x.set(features.subarray(i * d, (i + 1) * d), r * d);
      y[r * k + labels[i]] = 1;
      w[r] = wi;
      continue;
    }
    const j = indices[mix.partner[r]];
    const { lambda } = mix;
    for (let c = 0; c < d; c++) x[r * d + c] = lambda * features[i * d + c] + (1 - lambda) * features[j * d + c];
    y[r * k + labels[i]] += lambda;
    y[r * k + labels[j]] += 1 - lambda;
    // Mixed samples carry the same mix of their weights.
    w[r] = lambda * wi + (1 - lambda) * (data.sampleWeights ? data.sampleWeights[j] : 1);
  }
  return { x, y, w };
}

/** A head's parameters and its SGD step, for `runTraining`. */
export interface HeadEngine {
  /** Softmax predictions [n, K] of the current parameters on features [n, D]. */
  predict(features: Float32Array, n: number): Float32Array;
  /** One SGD step (see the header) on the first `rows` rows of the batch; returns the batch loss. */
  step(batch: Batch, rows: number, lr: number): number;
  /** The current parameters as a flat vector laid out as the layout says. */
  params(): Float32Array;
  dispose(): void;
}

/**
 * The training loop with the head implementation left open: `engine` receives the layout and the
 * initial parameters (drawn from the seed) and does the arithmetic; everything random happens here.
 */
export function runTraining(data: TrainData, options: TrainOptions, engine: (layout: HeadLayout, init: Float32Array) => HeadEngine): TrainResult {
  checkData(data);
  checkOptions(options);
  const { numSamples: n, dim: d, numClasses: k } = data;
  const layout = headLayout(options.head, d, k);
  const rng = createRng(options.seed, 'train');
  const init = initHead(options.head, layout, rng.fork('init'));
  const orderRng = rng.fork('order');
  const mixRng = rng.fork('mixup');
  const schedule = { baseLr: options.lr, epochs: options.epochs, warmupEpochs: options.warmupEpochs, schedule: options.schedule };
  const head = engine(layout, init);
  try {
    const initialSelection = data.trainMask ? Uint8Array.from(data.trainMask) : new Uint8Array(n).fill(1);
    let labels: Int32Array = Int32Array.from(data.labels);
    let mask: Uint8Array = initialSelection;
    let probs = head.predict(data.features, n);
    const initialAccuracy = setAccuracy(probs, k, labels, mask);
    const history: EpochRecord[] = [];
    const capacity = Math.min(options.batchSize, n);
    const batch: Batch = { x: new Float32Array(capacity * d), y: new Float32Array(capacity * k), w: new Float32Array(capacity) };
    let ema = options.ensembleLabels ? initialEma(options.ensembleLabels, data.labels, k) : null;

    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const members = membersOf(mask);
      if (members.length === 0) throw new TrainError(`epoch ${epoch + 1}: the training set is empty`);
      const order = epochOrder(members, labels, k, options.sampler, orderRng);
      const batches = Math.ceil(order.length / options.batchSize);
      let lossSum = 0;
      let firstLr = 0;
      for (let b = 0; b < batches; b++) {
        if (options.signal?.aborted) throw options.signal.reason ?? new TrainError('training aborted');
        const lr = learningRate(schedule, epoch, b, batches);
        if (b === 0) firstLr = lr;
        const indices = order.subarray(b * options.batchSize, Math.min(order.length, (b + 1) * options.batchSize));
        const mix = options.mixup ? drawMix(options.mixup.alpha, mixRng, indices.length) : null;
        options.onStep?.({ epoch, batch: b, indices, mix, lr });
        buildBatch(data, labels, indices, mix, batch);
        const value = head.step(batch, indices.length, lr);
        lossSum += value * indices.length;
      }
      if (!Number.isFinite(lossSum)) {
        throw new TrainError(`epoch ${epoch + 1}: the training loss is not finite (${lossSum}); lower lr (${options.lr})?`);
      }
      probs = head.predict(data.features, n);
      const record: EpochRecord = {
        epoch: epoch + 1, loss: lossSum / order.length, accuracy: setAccuracy(probs, k, labels, mask), lr: firstLr, setSize: members.length,
      };
      if (options.mixfix) {
        const next = mixfix(probs, k, data.labels, initialSelection, options.mixfix);
        labels = next.labels;
        mask = next.trainMask;
        record.mixfix = { ...next.counts };
      }
      if (ema && options.ensembleLabels) {
        const next = nextEnsembleLabels(ema, probs, k, options.ensembleLabels.momentum);
        ema = next.ema;
        // Only the training set's labels move; the others are never used.
        labels = Int32Array.from(labels, (y, i) => (mask[i] ? next.labels[i] : y));
      }
      history.push(record);
      options.onEpoch?.(record);
    }
    return { layout, params: head.params(), trainProbs: probs, initialAccuracy, history };
  } finally {
    head.dispose();
  }
}

/** Trains any head with tfjs (automatic differentiation) on the backend `tf` is bound to. */
export function trainClassifier(tf: Tf, data: TrainData, options: TrainOptions): TrainResult {
  return runTraining(data, options, (layout, init) => tfEngine(tf, layout, init, options));
}

function tfEngine(tf: Tf, layout: HeadLayout, init: Float32Array, options: TrainOptions): HeadEngine {
  const shapes = tensorShapes(layout);
  // Variables survive tf.tidy; the intermediate tensors they are made from do not.
  const params = toTensorValues(layout, init).map((values, i) => tf.tidy(() => tf.variable(tf.tensor(values, shapes[i]), true)));
  const momentum = shapes.map((shape) => tf.tidy(() => tf.variable(tf.zeros(shape), false)));
  return {
    predict: (features, n) => predictWith(tf, layout, params, features, n),
    step: (batch, rows, lr) => sgdStep(tf, layout, params, momentum, batch, rows, options, lr),
    params: () => fromTensorValues(layout, params.map((v) => v.dataSync() as Float32Array)),
    dispose() {
      for (const v of [...params, ...momentum]) v.dispose();
    },
  };
}

/** One SGD step (see the header); returns the batch loss. */
function sgdStep(
  tf: Tf, layout: HeadLayout, params: tfjs.Variable[], momentum: tfjs.Variable[], batch: Batch, rows: number,
  options: TrainOptions, lr: number,
): number {
  const { inputDim: d, numClasses: k } = layout;
  const value = tf.tidy(() => {
    const x = tf.tensor2d(batch.x.subarray(0, rows * d), [rows, d]);
    const y = tf.tensor2d(batch.y.subarray(0, rows * k), [rows, k]);
    const w = tf.tensor1d(batch.w.subarray(0, rows));
    const { value: loss, grads } = tf.variableGrads(() => {
      const logits = headLogits(tf, layout, params, x);
      const main = tf.mean(tf.mul(perSampleLoss(tf, logits, y, options.loss), w)) as tfjs.Scalar;
      const c = options.contrastive;
      return c && c.weight > 0 ? (tf.add(main, tf.mul(supConLoss(tf, logits, y, c.temperature), c.weight)) as tfjs.Scalar) : main;
    }, params);
    params.forEach((theta, i) => {
      let g = grads[theta.name];
      if (options.weightDecay > 0) g = tf.add(g, tf.mul(theta, options.weightDecay));
      const m = tf.add(tf.mul(momentum[i], options.momentum), g);
      momentum[i].assign(m);
      theta.assign(tf.sub(theta, tf.mul(m, lr)));
    });
    return loss;
  });
  const out = value.dataSync()[0];
  value.dispose();
  return out;
}

// The `train` node: a classifier head (linear, cosine, text-initialised linear, or MLP) on frozen
// CLIP features, trained with CE or GCE, optional mixup, class-balanced sampling and MixFix after
// every epoch. The linear family has a logit scale (CLIP's 1/0.07, fixed or learned) and a bias, so
// its probabilities can be confident; it trains on the project's own batched linear algebra, the MLP
// on the fastest tfjs backend installed. The backend that will run, and its version, are part of
// the key (`keyEnvironment`). Outputs the parameters (with a layout), the predictions on the
// training (and test) samples and the per-epoch history.
import { availableParallelism, loadavg } from 'node:os';
import {
  BACKEND_LABELS, backendFromLabel, linalgTrains, resolveTrainBackend, type TrainBackend, type TrainBackendChoice,
} from '../methods/train/backend-resolve.js';
import { CLIP_INIT_LOGIT_SCALE, logitScaleOf, type HeadConfig, type HeadKind, type HeadLayout } from '../methods/train/heads.js';
import type { SamplerKind } from '../methods/train/sampler.js';
import type { EpochRecord, TrainOptions, TrainResult } from '../methods/train/trainer.js';
import { tensor, type DType, type Json, type Tensor } from '../runtime/tensor.js';
import { defineNode, type NodeContext, type PortValue, type Ports } from '../runtime/types/node-type.js';
import { optionalTensor, requiredClassNames } from './inputs.js';
import { MIXFIX_PARAM, SCHEDULE_PARAMS, scheduleOf, type SgdParams } from './sgd-params.js';

export interface TrainParams extends SgdParams {
  head: HeadKind;
  hidden: number[];
  bias: boolean;
  logit_scale: number;
  learn_scale: boolean;
  mixup: false | { alpha: number };
  sampler: SamplerKind;
  temperature: number;
  /** Transductive CLIP; absent (no default) so existing keys are unchanged. */
  contrastive?: { weight: number; temperature: number };
  ensemble_labels?: { momentum: number };
  backend: TrainBackendChoice;
}

export class TrainInputError extends Error {
  override name = 'TrainInputError';
}


const paramsSchema = {
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: {
    head: {
      enum: ['linear', 'cosine', 'text-init', 'mlp'], default: 'linear',
      description: 'linear: s·f·Wᵀ + b, random W (PTNL Classifier-R); cosine: s·f̂·Ŵᵀ + b on L2-normalised features and weight rows; text-init: W from the class text embeddings and s = 1/temperature (Classifier-C, needs text_features); mlp: hidden layers with ReLU.',
    },
    hidden: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 65_536 }, minItems: 1, maxItems: 64, default: [512], description: 'Hidden layer widths of the mlp head.' },
    bias: { type: 'boolean', default: true, description: 'linear, cosine, text-init: a learned per-class bias b, initialised to 0 (mlp layers always have biases).' },
    logit_scale: {
      type: 'number', exclusiveMinimum: 0, default: CLIP_INIT_LOGIT_SCALE,
      description: 'linear, cosine: the initial logit scale s (CLIP\'s 1/0.07); text-init starts from 1/temperature instead.',
    },
    learn_scale: { type: 'boolean', default: false, description: 'linear, cosine, text-init: learn s (as log s, like CLIP) rather than keep it fixed. Off by default: on noisy labels a learned scale grows until the head is over-confident.' },
    loss: { enum: ['ce', 'gce'], default: 'ce', description: 'Cross-entropy or generalised cross-entropy (1 − p^q)/q.' },
    q: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.7, description: 'GCE exponent: q → 0 is CE, q = 1 is MAE.' },
    mixup: {
      default: false,
      description: 'false, or {alpha}: mixup with λ ~ Beta(α, α), λ = max(λ, 1 − λ), soft targets.',
      anyOf: [
        { const: false },
        {
          type: 'object', additionalProperties: false, required: ['alpha'],
          properties: { alpha: { type: 'number', exclusiveMinimum: 0, description: 'Beta parameter (1 = uniform λ).' } },
        },
      ],
    },
    sampler: { enum: ['balanced', 'shuffle'], default: 'shuffle', description: 'balanced: draws ∝ 1/class size of the current label (with replacement); shuffle: a permutation per epoch.' },
    epochs: { type: 'integer', minimum: 0, maximum: 100_000, default: 20, description: 'Training epochs (0 returns the initial head).' },
    batch_size: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 128, description: 'Samples per SGD step.' },
    lr: { type: 'number', minimum: 0, default: 0.02, description: 'Base learning rate.' },
    momentum: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.9, description: 'SGD momentum.' },
    weight_decay: { type: 'number', minimum: 0, default: 5e-4, description: 'L2 weight decay added to the gradient (torch SGD), on all parameters.' },
    ...SCHEDULE_PARAMS,
    warmup_epochs: { type: 'number', minimum: 0, maximum: 100_000, default: 0, description: 'Linear learning-rate warmup (epochs, may be fractional).' },
    temperature: { type: 'number', exclusiveMinimum: 0, default: 0.01, description: 'τ of the text-init head: W = normalised mean text embedding / τ (CLIP: 0.01).' },
    mixfix: MIXFIX_PARAM,
    backend: {
      enum: ['auto', 'linalg', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'], default: 'auto',
      description: 'auto: linalg (the project\'s own batched linear algebra, WebAssembly SIMD) for linear, cosine and text-init heads; for mlp the first installed of tensorflow-gpu, tensorflow (optional tfjs-node packages), wasm, cpu. The resolved backend and its version are part of the key.',
    },
    contrastive: {
      type: 'object', additionalProperties: false, required: ['weight'],
      description: 'Transductive CLIP\'s class-conditional contrastive term: supervised contrastive loss on the normalised head outputs, positives sharing the current label, added with this weight to CE/GCE. Absent: off.',
      properties: {
        weight: { type: 'number', minimum: 0, description: 'Weight of the contrastive term.' },
        temperature: { type: 'number', exclusiveMinimum: 0, default: 0.1, description: 'τ of the contrastive softmax.' },
      },
    },
    ensemble_labels: {
      type: 'object', additionalProperties: false,
      description: 'Transductive CLIP\'s ensemble labels: after every epoch ema = momentum·ema + (1 − momentum)·predictions (from init_probs, else the one-hot labels) and the next epoch trains on its arg-max. Not with mixfix. Absent: off.',
      properties: { momentum: { type: 'number', minimum: 0, maximum: 1, default: 0.9, description: 'EMA momentum.' } },
    },
  },
} as const;

function ports(params: TrainParams, connected: ReadonlySet<string>): Ports {
  const outputs: Ports['outputs'] = {
    weights: {
      kind: 'tensor', dtype: 'float32', rank: params.head === 'mlp' ? 1 : 2,
      description: 'Trained parameters: W [K, D] for linear, cosine and text-init heads (bias and logit scale: outputs bias and model); for mlp the flat vector that `model` lays out.',
    },
    model: { kind: 'json', description: 'Head layout: per layer the offset and shape of weight [out, in] and bias, and the activation.' },
    train_probs: { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Softmax predictions [N, K] on all training samples.' },
    history: { kind: 'json', description: 'Per-epoch loss, accuracy, lr, set size and MixFix counts; backend used.' },
  };
  if (params.head !== 'mlp' && params.bias) {
    outputs.bias = { kind: 'tensor', dtype: 'float32', rank: 1, description: 'Trained per-class bias b [K].' };
  }
  if (connected.has('test_features')) {
    outputs.test_probs = { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Softmax predictions [M, K] on test_features.' };
  }
  return {
    inputs: {
      features: { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Image features [N, D].' },
      labels: { kind: 'tensor', dtype: 'int32', rank: 1, description: 'Current labels [N] (the noisy labels for MixFix).' },
      mask: { kind: 'tensor', dtype: 'bool', rank: 1, optional: true, description: 'Training set [N] (MixFix: the initial selection); default all.' },
      weights: { kind: 'tensor', dtype: 'float32', rank: 1, optional: true, description: 'Per-sample loss weights [N].' },
      text_features: {
        kind: 'tensor', dtype: 'float32', rank: 3, optional: params.head !== 'text-init',
        description: 'Class text embeddings [K, P, D] (required by head: text-init).',
      },
      test_features: { kind: 'tensor', dtype: 'float32', rank: 2, optional: true, description: 'Features [M, D] to predict on.' },
      ...(params.ensemble_labels
        ? { init_probs: { kind: 'tensor', dtype: 'float32', rank: 2, optional: true, description: 'Initial probabilities [N, K] of the ensemble labels (zero-shot).' } as const }
        : {}),
      classes: { kind: 'json', description: 'Class names (string[]); K is its length.' },
    },
    outputs,
  };
}

/** The input `name` checked for dtype and rank; undefined when an optional port is unconnected. */
function optionalInput<D extends DType>(ctx: NodeContext<TrainParams>, name: string, dtype: D, rank: number): Tensor<D> | undefined {
  return optionalTensor(ctx.inputs, name, dtype, rank, TrainInputError);
}

function requiredInput<D extends DType>(ctx: NodeContext<TrainParams>, name: string, dtype: D, rank: number, why = ''): Tensor<D> {
  const t = optionalInput(ctx, name, dtype, rank);
  if (!t) throw new TrainInputError(`input "${name}" is required${why}`);
  return t;
}

function expectLength(name: string, t: Tensor, n: number): void {
  if (t.shape[0] !== n) throw new TrainInputError(`input "${name}" has ${t.shape[0]} rows, but features have N = ${n}`);
}

function headConfig(params: TrainParams, text: Tensor<'float32'> | undefined, numClasses: number, dim: number): HeadConfig {
  if (params.head === 'mlp') return { kind: 'mlp', hidden: params.hidden };
  const linear = { bias: params.bias, logitScale: { init: params.logit_scale, learn: params.learn_scale } };
  if (params.head !== 'text-init') return { kind: params.head, ...linear };
  const t = text as Tensor<'float32'>;
  if (t.shape[0] !== numClasses || t.shape[2] !== dim) {
    throw new TrainInputError(`text_features has shape [${t.shape.join(', ')}], expected [K = ${numClasses}, P, D = ${dim}]`);
  }
  return { kind: 'text-init', textFeatures: t.data, promptsPerClass: t.shape[1], temperature: params.temperature, ...linear };
}

function modelJson(layout: HeadLayout, params: TrainParams, trained: Float32Array): Json {
  const linearFamily = layout.head !== 'mlp';
  return {
    head: layout.head,
    input_dim: layout.inputDim,
    num_classes: layout.numClasses,
    size: layout.size,
    formula: linearFamily
      ? `logits = logit_scale·${layout.normalize ? 'x̂·Ŵᵀ (rows L2-normalised)' : 'x·Wᵀ'}${layout.layers[0].bias ? ' + b' : ''}; W row-major [K, D] at weight.offset of the flat vector, b at bias.offset, log(logit_scale) at logit_scale_offset when learned`
      : 'h_0 = x; h_l = act_l(h_{l-1}·W_lᵀ + b_l); logits = h_L; W_l row-major [out, in] at weight.offset of the flat vector',
    ...(linearFamily
      ? { normalize: layout.normalize, logit_scale: logitScaleOf(layout, trained), logit_scale_learned: layout.logitScale.offset !== null, logit_scale_offset: layout.logitScale.offset }
      : {}),
    ...(layout.head === 'text-init' ? { temperature: params.temperature } : {}),
    layers: layout.layers.map((l) => ({
      weight: { offset: l.weight.offset, shape: l.weight.shape },
      bias: l.bias ? { offset: l.bias.offset, shape: l.bias.shape } : null,
      activation: l.activation,
    })),
  };
}

function epochJson(r: EpochRecord): Json {
  const out: { [key: string]: Json } = { epoch: r.epoch, loss: r.loss, accuracy: r.accuracy, lr: r.lr, set_size: r.setSize };
  if (r.mixfix) out.mixfix = { ...r.mixfix };
  return out;
}

/** The key environment: the backend that will run here and its version. */
function environmentOf(params: TrainParams): { backend: string; backend_version: string } {
  const r = resolveTrainBackend(params.backend, params.head, params.contrastive !== undefined);
  return { backend: BACKEND_LABELS[r.backend], backend_version: r.version };
}

export default defineNode<TrainParams>({
  type: 'train',
  version: '2',
  description: 'Trains a classifier head on frozen features (CE/GCE, mixup, balanced sampling, MixFix each epoch); linear heads on Sieve\'s own linear algebra, mlp with tfjs.',
  paramsSchema,
  ports,
  resources: { cpus: 1, memory: '2G' },
  keyEnvironment: (params) => environmentOf(params),
  async run(ctx) {
    const p = ctx.params;
    const features = requiredInput(ctx, 'features', 'float32', 2);
    const [n, dim] = features.shape;
    const labels = requiredInput(ctx, 'labels', 'int32', 1);
    expectLength('labels', labels, n);
    const mask = optionalInput(ctx, 'mask', 'bool', 1);
    if (mask) expectLength('mask', mask, n);
    const weights = optionalInput(ctx, 'weights', 'float32', 1);
    if (weights) expectLength('weights', weights, n);
    const text = p.head === 'text-init' ? requiredInput(ctx, 'text_features', 'float32', 3, ' by head: text-init') : undefined;
    const test = optionalInput(ctx, 'test_features', 'float32', 2);
    if (test && test.shape[1] !== dim) throw new TrainInputError(`test_features have D = ${test.shape[1]}, features have D = ${dim}`);
    const classes = requiredClassNames(ctx.inputs, TrainInputError);
    const numClasses = classes.length;
    const initProbs = p.ensemble_labels ? optionalInput(ctx, 'init_probs', 'float32', 2) : undefined;
    if (initProbs && (initProbs.shape[0] !== n || initProbs.shape[1] !== numClasses)) {
      throw new TrainInputError(`init_probs has shape [${initProbs.shape.join(', ')}], expected [N = ${n}, K = ${numClasses}]`);
    }

    // What runs is what the key says: the backend resolved with the key (or here, when run directly).
    const env = ctx.environment ?? environmentOf(p);
    const chosen: TrainBackend | undefined = typeof env.backend === 'string' ? backendFromLabel(env.backend) : undefined;
    if (!chosen) throw new TrainInputError(`unknown backend ${JSON.stringify(env.backend)} in the key environment`);
    if (chosen === 'linalg' && !linalgTrains(p.head, p.contrastive !== undefined)) {
      const what = p.head === 'mlp' ? `head ${p.head}` : 'the contrastive term';
      throw new TrainInputError(`backend linalg trains linear, cosine and text-init heads without the contrastive term; ${what} needs a tfjs backend (auto, wasm, cpu, ...)`);
    }
    const data = { features: features.data, numSamples: n, dim, labels: labels.data, numClasses, trainMask: mask?.data, sampleWeights: weights?.data };
    const options: TrainOptions = {
      head: headConfig(p, text, numClasses, dim),
      loss: p.loss === 'gce' ? { kind: 'gce', q: p.q } : { kind: 'ce' },
      mixup: p.mixup === false ? null : { alpha: p.mixup.alpha },
      sampler: p.sampler,
      epochs: p.epochs,
      batchSize: p.batch_size,
      lr: p.lr,
      momentum: p.momentum,
      weightDecay: p.weight_decay,
      schedule: scheduleOf(p),
      warmupEpochs: p.warmup_epochs,
      mixfix: p.mixfix === false ? null : { absorb: p.mixfix.absorb, relabel: p.mixfix.relabel },
      contrastive: p.contrastive ? { weight: p.contrastive.weight, temperature: p.contrastive.temperature ?? 0.1 } : null,
      ensembleLabels: p.ensemble_labels ? { momentum: p.ensemble_labels.momentum ?? 0.9, initial: initProbs?.data } : null,
      seed: ctx.seed,
      signal: ctx.signal,
      onEpoch(r) {
        ctx.progress(r.epoch, p.epochs, 'epoch');
        const mf = r.mixfix ? `, next set ${r.mixfix.total} (+${r.mixfix.absorbed} absorbed, ${r.mixfix.relabelled} relabelled)` : '';
        ctx.log(`epoch ${r.epoch}/${p.epochs}: loss ${r.loss.toFixed(4)}, accuracy ${(100 * r.accuracy).toFixed(2)}% on ${r.setSize}, lr ${r.lr.toPrecision(3)}${mf}`);
      },
    };

    let result: TrainResult;
    let detail: string;
    let predictTest: (layout: HeadLayout, params: Float32Array, x: Float32Array, rows: number) => Float32Array;
    ctx.progress(0, p.epochs, 'epoch');
    if (chosen === 'linalg') {
      // No tfjs at all on this path.
      const { predictLinearHead, trainLinearHead } = await import('../methods/train/linear-head.js');
      detail = `Sieve's batched linear algebra, kernel ${String(env.backend_version)}`;
      ctx.note('backend', BACKEND_LABELS[chosen]);
      ctx.log(`train: backend ${BACKEND_LABELS[chosen]} — ${detail}`);
      // A second thread predicts on all samples after every epoch when a core is idle (results are
      // bit-identical either way, so not part of the key; on a busy machine the wait for it costs
      // more than it saves: `npm run bench -- --only train`).
      const cores = availableParallelism();
      const threads = cores >= 2 && loadavg()[0] < cores - 1 ? 2 : 1;
      ctx.log(`train: predictions after each epoch on ${threads} thread${threads > 1 ? 's' : ''} (load average ${loadavg()[0].toFixed(1)} on ${cores} cores)`);
      result = trainLinearHead(data, options, threads);
      predictTest = predictLinearHead;
    } else {
      // tfjs is imported here, not at module load, so declaring the node type stays cheap.
      const { selectBackend } = await import('../methods/train/backend.js');
      const { predictProbs, trainClassifier } = await import('../methods/train/trainer.js');
      const backend = await selectBackend(chosen, ctx.log);
      detail = backend.detail;
      ctx.note('backend', BACKEND_LABELS[chosen]);
      ctx.log(`train: backend ${BACKEND_LABELS[chosen]} — ${detail}`);
      result = trainClassifier(backend.tf, data, options);
      predictTest = (layout, params, x, rows) => predictProbs(backend.tf, layout, params, x, rows);
    }

    const { layout } = result;
    const kd = numClasses * dim;
    const outputs: Record<string, PortValue> = {
      weights: p.head === 'mlp' ? tensor('float32', [layout.size], result.params) : tensor('float32', [numClasses, dim], result.params.slice(0, kd)),
      model: modelJson(layout, p, result.params),
      train_probs: tensor('float32', [n, numClasses], result.trainProbs),
      history: {
        backend: BACKEND_LABELS[chosen],
        backend_detail: detail,
        head: p.head,
        loss: p.loss,
        initial_accuracy: result.initialAccuracy,
        epochs: result.history.map(epochJson),
      },
    };
    const biasAt = layout.layers[0].bias?.offset;
    if (p.head !== 'mlp' && biasAt !== undefined) outputs.bias = tensor('float32', [numClasses], result.params.slice(biasAt, biasAt + numClasses));
    if (test) {
      const m = test.shape[0];
      outputs.test_probs = tensor('float32', [m, numClasses], predictTest(layout, result.params, test.data, m));
    }
    return outputs;
  },
});

// The `prompt-tune` node: CoOp prompt learning through CLIP's frozen text encoder (PTNL with GCE),
// a prompt matrix of `blocks` contexts per class, robust-similarity filtering, MixFix after every
// epoch, few-shot subsets. Outputs like `train`'s (train/test probabilities, history) plus the
// learned context and the class text features, so relabel, select and evaluate consume it unchanged.
import type { TextModelSpec } from '../clip/text-source.js';
import type { PromptEpochRecord } from '../methods/prompt/coop.js';
import type { ClassTokenPosition } from '../methods/prompt/layout.js';
import type { BackendChoice } from '../methods/train/backend.js';
import type { SamplerKind } from '../methods/train/sampler.js';
import { tensor, type DType, type Json, type Tensor } from '../runtime/tensor.js';
import { defineNode, type ExternalDep, type NodeContext, type PortValue, type Ports } from '../runtime/types/node-type.js';
import { optionalTensor, requiredClassNames } from './inputs.js';
import { MIXFIX_PARAM, SCHEDULE_PARAMS, scheduleOf, type SgdParams } from './sgd-params.js';

export interface PromptTuneParams extends SgdParams {
  model: TextModelSpec;
  heads?: number;
  n_ctx: number;
  ctx_init: string | null;
  init_std: number;
  class_token_position: ClassTokenPosition;
  csc: boolean;
  blocks: number;
  ensemble: 'probs' | 'logits';
  logit_scale: 'model' | number;
  sampler: SamplerKind;
  robust: false | { a: number; b: number; drop?: number; threshold?: number };
  shots: number;
  backend: BackendChoice;
}

export class PromptTuneInputError extends Error {
  override name = 'PromptTuneInputError';
}

/** CLIP's trained logit scale (exp of its learned log-scale, clamped at 100); ONNX text encoders do not store it. */
export const CLIP_LOGIT_SCALE = 100;


const paramsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['model'],
  properties: {
    model: {
      description: '{dir}: a model directory with the ONNX text encoder (onnx/text_model.onnx, as `embed` uses) or a Hugging Face model.safetensors, and a tokenizer; or {synthetic: {width, layers, heads, embed_dim, seed}}: the seeded random-weight text model with a byte-level tokenizer (offline demonstrations and tests).',
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['dir'], properties: { dir: { type: 'string', description: 'Model directory, relative to the pipeline file.' } } },
        {
          type: 'object', additionalProperties: false, required: ['synthetic'],
          properties: {
            synthetic: {
              type: 'object', additionalProperties: false,
              properties: {
                width: { type: 'integer', minimum: 1, maximum: 65_536, default: 64 },
                layers: { type: 'integer', minimum: 1, maximum: 1_024, default: 2 },
                heads: { type: 'integer', minimum: 1, maximum: 1_024, default: 4 },
                embed_dim: { type: 'integer', minimum: 1, maximum: 65_536, default: 64 },
                seed: { type: 'integer', minimum: 0, maximum: 4_294_967_295, default: 0 },
              },
            },
          },
        },
      ],
    },
    heads: { type: 'integer', minimum: 1, maximum: 1_024, description: 'Attention heads of the text model when neither the ONNX graph nor a config.json beside it says (default width/64).' },
    n_ctx: { type: 'integer', minimum: 1, maximum: 1_024, default: 16, description: 'Learned context tokens (ignored with ctx_init, whose token count it becomes).' },
    ctx_init: { type: ['string', 'null'], default: null, description: 'Initialise the context from these words\' token embeddings (e.g. "a photo of a"); null: random N(0, init_std²).' },
    init_std: { type: 'number', minimum: 0, default: 0.02, description: 'Std of the random context init (and of the noise added to blocks ≥ 2 with ctx_init).' },
    class_token_position: { enum: ['end', 'middle', 'front'], default: 'end', description: 'Where the class name sits relative to the context.' },
    csc: { type: 'boolean', default: false, description: 'Class-specific context: one context per class instead of one shared.' },
    blocks: { type: 'integer', minimum: 1, maximum: 1_024, default: 1, description: 'Prompt matrix: m independent contexts (decision makers), each trained with the loss, predictions ensembled.' },
    ensemble: { enum: ['probs', 'logits'], default: 'probs', description: 'How the blocks are ensembled: mean of softmaxes, or softmax of the mean logits.' },
    logit_scale: {
      default: 'model',
      description: '"model": the checkpoint\'s logit_scale when it has one (model.safetensors), else CLIP\'s 100; or a number.',
      anyOf: [{ const: 'model' }, { type: 'number', exclusiveMinimum: 0 }],
    },
    loss: { enum: ['ce', 'gce'], default: 'ce', description: 'Cross-entropy or generalised cross-entropy (1 − p^q)/q (PTNL).' },
    q: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.7, description: 'GCE exponent.' },
    sampler: { enum: ['balanced', 'shuffle'], default: 'shuffle', description: 'Batch order: a permutation per epoch, or class-balanced draws.' },
    epochs: { type: 'integer', minimum: 0, maximum: 100_000, default: 50, description: 'Epochs (0: the initial prompt, e.g. zero-shot with ctx_init).' },
    batch_size: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 32, description: 'Samples per SGD step.' },
    lr: { type: 'number', minimum: 0, default: 0.002, description: 'Base learning rate.' },
    momentum: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.9, description: 'SGD momentum.' },
    weight_decay: { type: 'number', minimum: 0, default: 5e-4, description: 'L2 weight decay on the context.' },
    ...SCHEDULE_PARAMS,
    warmup_epochs: { type: 'number', minimum: 0, default: 1, description: 'Linear learning-rate warm-up (epochs; 0 = none; dropped when not shorter than the training).' },
    mixfix: MIXFIX_PARAM,
    robust: {
      default: false,
      description: 'false, or robust similarity {a, b, drop | threshold}: each epoch G = α·ỹ + (1−α)·g with α = min(1, a·e^{epoch/b}); per class the lowest `drop` fraction of G (or G < threshold) sits the epoch out.',
      anyOf: [
        { const: false },
        {
          type: 'object', additionalProperties: false,
          properties: {
            a: { type: 'number', exclusiveMinimum: 0, default: 0.2, description: 'α at epoch 0.' },
            b: { type: 'number', exclusiveMinimum: 0, default: 35, description: 'Epochs for α to grow by e.' },
            drop: { type: 'number', minimum: 0, exclusiveMaximum: 1, description: 'Fraction of each class left out (default 0.2 when no threshold).' },
            threshold: { type: 'number', description: 'Leave out samples with G below this (each class keeps its best).' },
          },
        },
      ],
    },
    shots: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0, description: 'Few-shot: train on this many samples per class (by the labels input, stratified, seeded) of the mask; 0 = all.' },
    backend: {
      enum: ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'], default: 'auto',
      description: 'tfjs backend; auto tries tensorflow-gpu, tensorflow (optional native packages), wasm, cpu.',
    },
  },
} as const;

function ports(params: PromptTuneParams, connected: ReadonlySet<string>): Ports {
  const outputs: Ports['outputs'] = {
    train_probs: { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Ensemble softmax predictions [N, K] on all training samples.' },
    context: { kind: 'tensor', dtype: 'float32', rank: 4, description: 'Learned context [blocks, Kc, n_ctx, width] (Kc = K with csc, else 1).' },
    text_features: { kind: 'tensor', dtype: 'float32', rank: 3, description: 'Normalised class text features [K, blocks, D] of the learned prompts (like embed\'s [K, P, D]).' },
    mask: { kind: 'tensor', dtype: 'bool', rank: 1, description: 'The samples in the last epoch\'s loss (few-shot subset, MixFix, robust filtering).' },
    history: { kind: 'json', description: 'Per-epoch loss, accuracy, lr, set size; robust α, kept, precision; MixFix counts; backend and logit scale.' },
  };
  if (connected.has('test_features')) outputs.test_probs = { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Ensemble softmax predictions [M, K] on test_features.' };
  return {
    inputs: {
      features: { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Image features [N, D] of the frozen image encoder.' },
      labels: { kind: 'tensor', dtype: 'int32', rank: 1, description: 'Given (noisy or pseudo-) labels [N].' },
      mask: { kind: 'tensor', dtype: 'bool', rank: 1, optional: true, description: 'Training set [N]; default all.' },
      weights: { kind: 'tensor', dtype: 'float32', rank: 1, optional: true, description: 'Per-sample loss weights [N].' },
      true_labels: { kind: 'tensor', dtype: 'int32', rank: 1, optional: true, description: 'True labels [N], for robust similarity\'s selection precision.' },
      test_features: { kind: 'tensor', dtype: 'float32', rank: 2, optional: true, description: 'Features [M, D] to predict on.' },
      classes: { kind: 'json', description: 'Class names (string[]).' },
    },
    outputs,
  };
}

function input<D extends DType>(ctx: NodeContext<PromptTuneParams>, name: string, dtype: D, rank: number, n?: number): Tensor<D> | undefined {
  const t = optionalTensor(ctx.inputs, name, dtype, rank, PromptTuneInputError);
  if (t && n !== undefined && t.shape[0] !== n) throw new PromptTuneInputError(`input "${name}" has ${t.shape[0]} rows, but features have N = ${n}`);
  return t;
}

function epochJson(r: PromptEpochRecord): Json {
  const out: { [key: string]: Json } = { epoch: r.epoch, loss: r.loss, accuracy: r.accuracy, lr: r.lr, set_size: r.setSize };
  if (r.alpha !== undefined) out.alpha = r.alpha;
  if (r.kept !== undefined) out.kept = r.kept;
  if (r.precision !== undefined) out.precision = r.precision;
  if (r.mixfix) out.mixfix = { ...r.mixfix };
  return out;
}

export default defineNode<PromptTuneParams>({
  type: 'prompt-tune',
  version: '1',
  description: 'CoOp/PTNL prompt learning through the frozen CLIP text encoder (tfjs): CE/GCE, prompt matrix, robust similarity, MixFix, few-shot.',
  paramsSchema,
  ports,
  resources: { cpus: 1, memory: '4G' },
  async fingerprint(ctx): Promise<ExternalDep[]> {
    const { textModelFiles } = await import('../clip/text-source.js');
    const files = textModelFiles(ctx.params.model, ctx.baseDir);
    if (!files) return [];
    return Promise.all(Object.entries(files).map(async ([role, path]) => ({ name: `model:${role}`, path, ...(await ctx.hashFile(path)) })));
  },
  async run(ctx) {
    const p = ctx.params;
    const features = input(ctx, 'features', 'float32', 2);
    if (!features) throw new PromptTuneInputError('input "features" is required');
    const [n, dim] = features.shape;
    const labels = input(ctx, 'labels', 'int32', 1, n);
    if (!labels) throw new PromptTuneInputError('input "labels" is required');
    const mask = input(ctx, 'mask', 'bool', 1, n);
    const weights = input(ctx, 'weights', 'float32', 1, n);
    const trueLabels = input(ctx, 'true_labels', 'int32', 1, n);
    const test = input(ctx, 'test_features', 'float32', 2);
    if (test && test.shape[1] !== dim) throw new PromptTuneInputError(`test_features have D = ${test.shape[1]}, features have D = ${dim}`);
    const classes = requiredClassNames(ctx.inputs, PromptTuneInputError);
    const k = classes.length;
    if (p.robust && p.robust.drop !== undefined && p.robust.threshold !== undefined) {
      throw new PromptTuneInputError('params.robust: give drop or threshold, not both');
    }

    const [{ selectBackend }, { loadTextModelSpec }, { ClipTextModel }, coop, { promptLayout }, { sampleShots }, { createRng }] = await Promise.all([
      import('../methods/train/backend.js'), import('../clip/text-source.js'), import('../clip/text-model.js'),
      import('../methods/prompt/coop.js'), import('../methods/prompt/layout.js'), import('../methods/prompt/shots.js'), import('../random/rng.js'),
    ]);
    const backend = await selectBackend(p.backend, ctx.log);
    ctx.note('backend', backend.name);
    const loaded = await loadTextModelSpec(p.model, ctx.baseDir, { heads: p.heads });
    ctx.log(`prompt-tune: backend ${backend.name} — ${backend.detail}; text model ${loaded.description}`);
    const model = new ClipTextModel(backend.tf, loaded.weights);
    try {
      const tok = loaded.tokenizer;
      const ctxIds = p.ctx_init === null ? null : tok.encode(p.ctx_init);
      if (ctxIds && ctxIds.length === 0) throw new PromptTuneInputError(`ctx_init "${p.ctx_init}" has no tokens`);
      const nCtx = ctxIds ? ctxIds.length : p.n_ctx;
      const layout = promptLayout(
        { classTokens: classes.map((c) => tok.encode(c)), suffix: tok.encode('.'), sot: tok.startOfText, eot: tok.endOfText },
        nCtx, p.class_token_position, model.config.contextLength,
      );
      let ctxInit: Float32Array | null = null;
      if (ctxIds) {
        const t = model.embedTokens(Int32Array.from(ctxIds), 1, ctxIds.length);
        ctxInit = Float32Array.from(t.dataSync());
        t.dispose();
      }
      let trainMask = mask?.data;
      if (p.shots > 0) {
        trainMask = sampleShots(labels.data, k, p.shots, createRng(ctx.seed, 'prompt-tune/shots'), mask?.data);
        let size = 0;
        for (const v of trainMask) size += v;
        ctx.log(`few-shot: ${p.shots} per class → ${size} samples`);
      }
      const logitScale = p.logit_scale === 'model' ? (loaded.weights.logitScale ?? CLIP_LOGIT_SCALE) : p.logit_scale;
      const robust = p.robust === false ? null : {
        a: p.robust.a ?? 0.2, b: p.robust.b ?? 35,
        filter: p.robust.threshold !== undefined ? { kind: 'threshold' as const, value: p.robust.threshold } : { kind: 'fraction' as const, drop: p.robust.drop ?? 0.2 },
      };
      // The default one-epoch warm-up cannot precede a run of one epoch: it is dropped, and said so.
      const warmupEpochs = p.warmup_epochs >= p.epochs && p.epochs > 0 ? 0 : p.warmup_epochs;
      if (warmupEpochs !== p.warmup_epochs) ctx.log(`warm-up of ${p.warmup_epochs} epochs dropped: training has only ${p.epochs}`);
      ctx.progress(0, p.epochs, 'epoch');
      const result = coop.promptTune(backend.tf, model, {
        features: features.data, numSamples: n, dim, labels: labels.data, trainMask, sampleWeights: weights?.data, trueLabels: trueLabels?.data,
      }, {
        layout, ctxInit, initStd: p.init_std, csc: p.csc, blocks: p.blocks, ensemble: p.ensemble, logitScale,
        loss: p.loss === 'gce' ? { kind: 'gce', q: p.q } : { kind: 'ce' },
        sampler: p.sampler, epochs: p.epochs, batchSize: p.batch_size, lr: p.lr, momentum: p.momentum, weightDecay: p.weight_decay,
        schedule: scheduleOf(p),
        warmupEpochs,
        mixfix: p.mixfix === false ? null : { absorb: p.mixfix.absorb, relabel: p.mixfix.relabel },
        robust, seed: ctx.seed, signal: ctx.signal,
        onEpoch(r) {
          ctx.progress(r.epoch, p.epochs, 'epoch');
          const rs = r.alpha !== undefined ? `, α ${r.alpha.toFixed(3)}, kept ${r.kept}${r.precision !== undefined ? ` (precision ${(100 * r.precision).toFixed(1)}%)` : ''}` : '';
          ctx.log(`epoch ${r.epoch}/${p.epochs}: loss ${r.loss.toFixed(4)}, accuracy ${(100 * r.accuracy).toFixed(2)}% on ${r.setSize}, lr ${r.lr.toPrecision(3)}${rs}`);
        },
      });
      const outputs: Record<string, PortValue> = {
        train_probs: tensor('float32', [n, k], result.trainProbs),
        context: tensor('float32', result.contextShape, result.context),
        text_features: tensor('float32', [k, p.blocks, model.config.embedDim], result.textFeatures),
        mask: tensor('bool', [n], result.lastSet),
        history: {
          backend: backend.name, backend_detail: backend.detail, loss: p.loss, logit_scale: logitScale,
          n_ctx: nCtx, blocks: p.blocks, prompt_length: layout.length,
          initial_accuracy: result.initialAccuracy, epochs: result.history.map(epochJson),
        },
      };
      if (test) {
        const { predictWithText } = coop;
        outputs.test_probs = tensor('float32', [test.shape[0], k], predictWithText(result.textFeatures, k, p.blocks, test.data, test.shape[0], logitScale, p.ensemble));
      }
      return outputs;
    } finally {
      model.dispose();
    }
  },
});

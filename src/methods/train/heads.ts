// Classifier heads on frozen features. All parameters live in one flat float32 vector; a layout
// names each layer's weight [out, in] (row-major, torch's nn.Linear convention: y = x·Wᵀ + b) and
// bias by offset, so a saved vector is unambiguous.
//   linear     PTNL's Classifier-R: logits = s·f·Wᵀ + b, W [K, D] drawn U(±1/√D) (torch's Linear init).
//   cosine     logits = s·f̂·Ŵᵀ + b with f̂, Ŵ_k the L2-normalised feature and weight rows (each
//              logit is s times a cosine similarity, so s alone sets how confident the head can be).
//   text-init  PTNL's Classifier-C: W_k = normalise(mean_p t_kp) and s = 1/τ (CLIP's scale), so before
//              training the head is exactly zero-shot CLIP.
//   mlp        Linear+ReLU per hidden size, then Linear to K, with biases, torch's default init.
// The linear family (linear, cosine, text-init) has an optional bias b [K] (initialised to 0) and a
// logit scale s, fixed or learned; a learned scale is stored as t = log s (as CLIP does), so it stays
// positive. Flat layout: W, then b, then t. Without options a linear head is bias-free with s = 1.
import type * as tfjs from '@tensorflow/tfjs';
import type { Rng } from '../../random/rng.js';
import type { Tf } from './tf.js';

export type HeadKind = 'linear' | 'cosine' | 'text-init' | 'mlp';

/** CLIP's initial logit scale, 1/0.07. */
export const CLIP_INIT_LOGIT_SCALE = 1 / 0.07;

export interface LinearHeadOptions {
  /** A learned per-class bias, initialised to 0 (default: none). */
  bias?: boolean;
  /**
   * The logit scale s: its initial value and whether it is learned (as log s). Default: fixed 1.
   * text-init starts at 1/τ whatever `init` says (only `learn` counts there).
   */
  logitScale?: { init: number; learn: boolean };
}

export type HeadConfig =
  | ({ kind: 'linear' | 'cosine' } & LinearHeadOptions)
  | ({
      kind: 'text-init';
      /** [K, P, D] row-major: P prompt embeddings per class. */
      textFeatures: Float32Array;
      promptsPerClass: number;
      /** τ: the initial logits are cosine similarities / τ (CLIP: 0.01). */
      temperature: number;
    } & LinearHeadOptions)
  | { kind: 'mlp'; hidden: readonly number[] };

export interface ParamSlice {
  offset: number;
  shape: number[];
}

export interface LayerLayout {
  /** [out, in]. */
  weight: ParamSlice;
  /** [out], or null for the bias-free linear heads. */
  bias: ParamSlice | null;
  /** Applied after this layer. */
  activation: 'relu' | 'none';
}

export interface LogitScaleLayout {
  /** Its initial value (the value throughout when fixed). */
  init: number;
  /** Offset of the learned t = log s in the flat vector, or null when s is fixed. */
  offset: number | null;
}

export interface HeadLayout {
  head: HeadKind;
  inputDim: number;
  numClasses: number;
  layers: LayerLayout[];
  /** Cosine head: features and weight rows are L2-normalised before their product. */
  normalize: boolean;
  /** logits = s·(last layer's product) + bias; s = 1, fixed, for mlp heads. */
  logitScale: LogitScaleLayout;
  /** Total number of parameters (length of the flat vector). */
  size: number;
}

export class HeadError extends Error {
  override name = 'HeadError';
}

export function headLayout(config: HeadConfig, inputDim: number, numClasses: number): HeadLayout {
  const widths = config.kind === 'mlp' ? [inputDim, ...config.hidden, numClasses] : [inputDim, numClasses];
  if (config.kind === 'mlp') {
    for (const h of config.hidden) {
      if (!Number.isInteger(h) || h < 1) throw new HeadError(`hidden sizes must be positive integers, got [${config.hidden.join(', ')}]`);
    }
  }
  const withBias = config.kind === 'mlp' || Boolean(config.bias);
  const layers: LayerLayout[] = [];
  let offset = 0;
  for (let l = 0; l + 1 < widths.length; l++) {
    const [fanIn, out] = [widths[l], widths[l + 1]];
    const weight = { offset, shape: [out, fanIn] };
    offset += out * fanIn;
    let bias: ParamSlice | null = null;
    if (withBias) {
      bias = { offset, shape: [out] };
      offset += out;
    }
    layers.push({ weight, bias, activation: l + 2 < widths.length ? 'relu' : 'none' });
  }
  let logitScale: LogitScaleLayout = { init: 1, offset: null };
  if (config.kind !== 'mlp') {
    const init = config.kind === 'text-init' && config.logitScale ? 1 / config.temperature : config.logitScale?.init ?? 1;
    if (!(init > 0 && Number.isFinite(init))) throw new HeadError(`logit_scale must be a finite number > 0, got ${init}`);
    logitScale = { init, offset: config.logitScale?.learn ? offset++ : null };
  }
  return { head: config.kind, inputDim, numClasses, layers, normalize: config.kind === 'cosine', logitScale, size: offset };
}

/** The logit scale s of a flat parameter vector. */
export function logitScaleOf(layout: HeadLayout, params: Float32Array): number {
  const { offset, init } = layout.logitScale;
  return offset === null ? init : Math.exp(params[offset]);
}

/** W_k = normalise(mean_p t_kp) / τ, as a [K, D] row-major matrix. */
export function textInitWeights(textFeatures: Float32Array, numClasses: number, promptsPerClass: number, dim: number, temperature: number): Float32Array {
  if (textFeatures.length !== numClasses * promptsPerClass * dim) {
    throw new HeadError(`text features have ${textFeatures.length} values, expected K·P·D = ${numClasses}·${promptsPerClass}·${dim}`);
  }
  if (!(temperature > 0)) throw new HeadError(`temperature must be > 0, got ${temperature}`);
  const w = new Float32Array(numClasses * dim);
  const mean = new Float64Array(dim);
  for (let k = 0; k < numClasses; k++) {
    mean.fill(0);
    for (let p = 0; p < promptsPerClass; p++) {
      const base = (k * promptsPerClass + p) * dim;
      for (let j = 0; j < dim; j++) mean[j] += textFeatures[base + j];
    }
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += mean[j] * mean[j];
    norm = Math.sqrt(norm);
    if (!(norm > 0)) throw new HeadError(`class ${k}: the mean of its text embeddings is zero (or not finite); cannot normalise`);
    for (let j = 0; j < dim; j++) w[k * dim + j] = mean[j] / norm / temperature;
  }
  return w;
}

/** The initial flat parameter vector. */
export function initHead(config: HeadConfig, layout: HeadLayout, rng: Rng): Float32Array {
  const params = new Float32Array(layout.size);
  if (layout.logitScale.offset !== null) params[layout.logitScale.offset] = Math.log(layout.logitScale.init);
  if (config.kind === 'text-init') {
    // With a logit scale the rows stay unit vectors and s = 1/τ; without one (the original
    // Classifier-C) the rows carry 1/τ themselves.
    const tau = config.logitScale ? 1 : config.temperature;
    params.set(textInitWeights(config.textFeatures, layout.numClasses, config.promptsPerClass, layout.inputDim, tau));
    return params;
  }
  for (const layer of layout.layers) {
    const bound = 1 / Math.sqrt(layer.weight.shape[1]);
    // The linear family starts with a zero bias; mlp layers draw theirs like torch.
    const drawn = layer.bias && config.kind === 'mlp' ? [layer.weight, layer.bias] : [layer.weight];
    for (const slice of drawn) {
      const end = slice.offset + slice.shape.reduce((a, b) => a * b, 1);
      for (let i = slice.offset; i < end; i++) params[i] = (2 * rng.next() - 1) * bound;
    }
  }
  return params;
}

// Inside tf a weight is held as a kernel V = Wᵀ [in, out], so the forward pass is x·V and no
// matMul ever uses a transpose flag: tfjs-wasm runs transposed matMuls ~7× slower than a plain one
// plus an explicit transpose (measured at 128×512×100).

/**
 * Shapes of the tensors tf trains, layer by layer: kernel [in, out], then bias [out] if any; a
 * learned log-scale comes last, as a [1] tensor.
 */
export function tensorShapes(layout: HeadLayout): number[][] {
  const shapes = layout.layers.flatMap((l) => {
    const kernel = [l.weight.shape[1], l.weight.shape[0]];
    return l.bias ? [kernel, l.bias.shape] : [kernel];
  });
  return layout.logitScale.offset === null ? shapes : [...shapes, [1]];
}

/** The flat vector as the values of the tensors tf trains (weights transposed to kernels). */
export function toTensorValues(layout: HeadLayout, flat: Float32Array): Float32Array[] {
  const values = layout.layers.flatMap((l) => {
    const [out, fanIn] = l.weight.shape;
    const kernel = new Float32Array(out * fanIn);
    for (let o = 0; o < out; o++) for (let i = 0; i < fanIn; i++) kernel[i * out + o] = flat[l.weight.offset + o * fanIn + i];
    return l.bias ? [kernel, flat.slice(l.bias.offset, l.bias.offset + out)] : [kernel];
  });
  const at = layout.logitScale.offset;
  return at === null ? values : [...values, flat.slice(at, at + 1)];
}

/** Inverse of toTensorValues. */
export function fromTensorValues(layout: HeadLayout, values: readonly Float32Array[]): Float32Array {
  const flat = new Float32Array(layout.size);
  let t = 0;
  for (const l of layout.layers) {
    const [out, fanIn] = l.weight.shape;
    const kernel = values[t++];
    for (let o = 0; o < out; o++) for (let i = 0; i < fanIn; i++) flat[l.weight.offset + o * fanIn + i] = kernel[i * out + o];
    if (l.bias) flat.set(values[t++], l.bias.offset);
  }
  if (layout.logitScale.offset !== null) flat[layout.logitScale.offset] = values[t][0];
  return flat;
}

/**
 * x·V with a gradient that uses explicit transposes (see above). The gradient for x is skipped
 * (zeros) for the first layer, whose input is data.
 */
function dense(tf: Tf, x: tfjs.Tensor2D, kernel: tfjs.Tensor2D, inputNeedsGrad: boolean): tfjs.Tensor2D {
  const op = tf.customGrad((a, v, save) => {
    const [input, weights] = [a as tfjs.Tensor2D, v as tfjs.Tensor2D];
    (save as tfjs.GradSaveFunc)([input, weights]);
    return {
      value: tf.matMul(input, weights),
      gradFunc: (dy: tfjs.Tensor, saved: tfjs.Tensor[]) => {
        const [si, sw] = saved as tfjs.Tensor2D[];
        const dInput = inputNeedsGrad ? tf.matMul(dy as tfjs.Tensor2D, tf.transpose(sw)) : tf.zerosLike(si);
        return [dInput, tf.matMul(tf.transpose(si), dy as tfjs.Tensor2D)];
      },
    };
  });
  return op(x, kernel) as tfjs.Tensor2D;
}

/** Rows (axis 1) or columns (axis 0) divided by their L2 norm, as torch's F.normalize (eps 1e-12). */
function normalize(tf: Tf, m: tfjs.Tensor2D, axis: 0 | 1): tfjs.Tensor2D {
  return tf.div(m, tf.maximum(tf.norm(m, 'euclidean', axis, true), 1e-12));
}

/** Logits [B, K] for features x [B, D]; `tensors` are shaped as tensorShapes(layout) says. */
export function headLogits(tf: Tf, layout: HeadLayout, tensors: readonly tfjs.Tensor[], x: tfjs.Tensor2D): tfjs.Tensor2D {
  let h = layout.normalize ? normalize(tf, x, 1) : x;
  let t = 0;
  const last = layout.layers.length - 1;
  const { offset: scaleAt, init: scale } = layout.logitScale;
  layout.layers.forEach((layer, l) => {
    const kernel = tensors[t++] as tfjs.Tensor2D;
    h = dense(tf, h, layout.normalize ? normalize(tf, kernel, 0) : kernel, l > 0);
    if (l === last) {
      if (scaleAt !== null) h = tf.mul(h, tf.exp(tensors[tensors.length - 1]));
      else if (scale !== 1) h = tf.mul(h, scale);
    }
    if (layer.bias) h = tf.add(h, tensors[t++]);
    if (layer.activation === 'relu') h = tf.relu(h);
  });
  return h;
}

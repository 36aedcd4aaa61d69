// CLIP's text transformer in tfjs, differentiable with respect to its input token embeddings, so
// that learned prompt context vectors (CoOp) can be spliced in between the fixed tokens:
//   x = token embeddings [B, T, W] + position embeddings
//   L × pre-LN residual blocks: x += attn(LN1(x)) with the causal mask; x += fc2(QuickGELU(fc1(LN2(x))))
//   final LN, pooled at each row's end-of-text position, · text projection → [B, E] (not normalised).
// The causal mask makes positions after a row's EOT token irrelevant to its output, so the
// computation runs only over the first max(EOT) + 1 positions of the batch.
//
// The weights stay frozen (plain tensors, not variables); gradients flow to whatever the caller
// builds the input embeddings from.
import type * as tfjs from '@tensorflow/tfjs';
import type { Tf } from '../methods/train/backend.js';
import type { LinearWeights, NormWeights, TextModelConfig, TextModelWeights } from './text-weights.js';

export class TextModelError extends Error {
  override name = 'TextModelError';
}

interface TfLinear {
  w: tfjs.Tensor2D;
  b: tfjs.Tensor1D;
}

interface TfNorm {
  g: tfjs.Tensor1D;
  b: tfjs.Tensor1D;
}

interface TfLayer {
  ln1: TfNorm;
  q: TfLinear;
  k: TfLinear;
  v: TfLinear;
  out: TfLinear;
  ln2: TfNorm;
  fc1: TfLinear;
  fc2: TfLinear;
}

const LN_EPS = 1e-5;
/** Added to masked attention scores (exp underflows to exactly 0 in float32). */
const MASKED = -1e9;

/** The position of each row's end-of-text token: the arg-max of its ids (CLIP's EOT has the largest id). */
export function eotPositions(ids: Int32Array, batch: number, length: number): Int32Array {
  if (ids.length !== batch * length) throw new TextModelError(`token ids have ${ids.length} values, expected ${batch}·${length}`);
  const out = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    let best = 0;
    for (let t = 1; t < length; t++) if (ids[b * length + t] > ids[b * length + best]) best = t;
    out[b] = best;
  }
  return out;
}

export class ClipTextModel {
  readonly config: TextModelConfig;
  readonly logitScale?: number;
  private readonly tokenEmbedding: tfjs.Tensor2D;
  private readonly positionEmbedding: tfjs.Tensor2D;
  private readonly layers: TfLayer[];
  private readonly finalLn: TfNorm;
  private readonly projection: tfjs.Tensor2D;
  private readonly masks = new Map<number, tfjs.Tensor2D>();
  private readonly owned: tfjs.Tensor[] = [];

  constructor(
    private readonly tf: Tf,
    weights: TextModelWeights,
  ) {
    const c = weights.config;
    this.config = c;
    this.logitScale = weights.logitScale;
    if (c.width % c.heads !== 0) throw new TextModelError(`width ${c.width} is not divisible by ${c.heads} heads`);
    const keep = <T extends tfjs.Tensor>(t: T): T => {
      this.owned.push(t);
      return t;
    };
    const lin = (l: LinearWeights, inDim: number, outDim: number): TfLinear => ({
      w: keep(tf.tensor2d(l.weight, [inDim, outDim])),
      b: keep(tf.tensor1d(l.bias)),
    });
    const norm = (n: NormWeights): TfNorm => ({ g: keep(tf.tensor1d(n.weight)), b: keep(tf.tensor1d(n.bias)) });
    this.tokenEmbedding = keep(tf.tensor2d(weights.tokenEmbedding, [c.vocabSize, c.width]));
    this.positionEmbedding = keep(tf.tensor2d(weights.positionEmbedding, [c.contextLength, c.width]));
    this.layers = weights.layers.map((l) => ({
      ln1: norm(l.ln1),
      q: lin(l.q, c.width, c.width),
      k: lin(l.k, c.width, c.width),
      v: lin(l.v, c.width, c.width),
      out: lin(l.out, c.width, c.width),
      ln2: norm(l.ln2),
      fc1: lin(l.fc1, c.width, c.mlp),
      fc2: lin(l.fc2, c.mlp, c.width),
    }));
    this.finalLn = norm(weights.finalLn);
    this.projection = keep(tf.tensor2d(weights.projection, [c.width, c.embedDim]));
  }

  /** Token embeddings [B, length, W] of token ids [B·length] (no position embeddings). */
  embedTokens(ids: Int32Array, batch: number, length: number): tfjs.Tensor3D {
    if (ids.length !== batch * length) throw new TextModelError(`token ids have ${ids.length} values, expected ${batch}·${length}`);
    const { vocabSize, width } = this.config;
    for (let i = 0; i < ids.length; i++) {
      if (!(ids[i] >= 0 && ids[i] < vocabSize)) throw new TextModelError(`token id ${ids[i]} at ${i} is outside the vocabulary [0, ${vocabSize})`);
    }
    const tf = this.tf;
    return tf.tidy(() => tf.reshape(tf.gather(this.tokenEmbedding, tf.tensor1d(ids, 'int32')), [batch, length, width]) as tfjs.Tensor3D);
  }

  /** The [T, T] additive causal mask (cached per length). */
  private causalMask(t: number): tfjs.Tensor2D {
    let mask = this.masks.get(t);
    if (!mask) {
      const values = new Float32Array(t * t);
      for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) values[i * t + j] = MASKED;
      mask = this.tf.keep(this.tf.tensor2d(values, [t, t]));
      this.masks.set(t, mask);
    }
    return mask;
  }

  private layerNorm(x: tfjs.Tensor2D, n: TfNorm): tfjs.Tensor2D {
    const tf = this.tf;
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, LN_EPS))), n.g), n.b);
  }

  private linear(x: tfjs.Tensor2D, l: TfLinear): tfjs.Tensor2D {
    return this.tf.add(this.tf.matMul(x, l.w), l.b);
  }

  /**
   * Text features [B, E] (before L2 normalisation) of input embeddings [B, T0, W] whose row b ends
   * at position eot[b] < T0. Only the first max(eot) + 1 positions are computed. Differentiable
   * with respect to `embeddings`. The caller disposes the result (or calls this inside tf.tidy).
   */
  forwardEmbeddings(embeddings: tfjs.Tensor3D, eot: Int32Array): tfjs.Tensor2D {
    const tf = this.tf;
    const { width, heads, contextLength } = this.config;
    const [batch, length, w] = embeddings.shape;
    if (w !== width) throw new TextModelError(`input embeddings have width ${w}, the model has ${width}`);
    if (eot.length !== batch) throw new TextModelError(`${eot.length} EOT positions for a batch of ${batch}`);
    let longest = 0;
    for (const p of eot) {
      if (!(p >= 0 && p < length)) throw new TextModelError(`EOT position ${p} is outside the ${length} input positions`);
      longest = Math.max(longest, p);
    }
    const t = longest + 1;
    if (t > contextLength) throw new TextModelError(`prompt needs ${t} positions, the model has ${contextLength}`);
    const headDim = width / heads;
    const scale = 1 / Math.sqrt(headDim);
    return tf.tidy(() => {
      const input = t === length ? embeddings : tf.slice(embeddings, [0, 0, 0], [batch, t, width]);
      let x = tf.reshape(tf.add(input, tf.slice(this.positionEmbedding, [0, 0], [t, width])), [batch * t, width]) as tfjs.Tensor2D;
      const mask = this.causalMask(t);
      const toHeads = (y: tfjs.Tensor2D) => tf.transpose(tf.reshape(y, [batch, t, heads, headDim]), [0, 2, 1, 3]) as tfjs.Tensor4D;
      for (const layer of this.layers) {
        const h = this.layerNorm(x, layer.ln1);
        const q = toHeads(tf.mul(this.linear(h, layer.q), scale));
        const k = toHeads(this.linear(h, layer.k));
        const v = toHeads(this.linear(h, layer.v));
        const scores = tf.add(tf.matMul(q, k, false, true), mask);
        const context = tf.matMul(tf.softmax(scores), v);
        const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch * t, width]) as tfjs.Tensor2D;
        x = tf.add(x, this.linear(merged, layer.out));
        const hidden = this.linear(this.layerNorm(x, layer.ln2), layer.fc1);
        const gelu = tf.mul(hidden, tf.sigmoid(tf.mul(hidden, 1.702)));
        x = tf.add(x, this.linear(gelu as tfjs.Tensor2D, layer.fc2));
      }
      // Pooling by a one-hot mask and a sum rather than gather, whose gradient (UnsortedSegmentSum)
      // the wasm backend lacks.
      const onehot = new Float32Array(batch * t);
      eot.forEach((p, b) => (onehot[b * t + p] = 1));
      const picked = tf.sum(tf.mul(tf.reshape(x, [batch, t, width]), tf.tensor3d(onehot, [batch, t, 1])), 1) as tfjs.Tensor2D;
      const pooled = this.layerNorm(picked, this.finalLn);
      return tf.matMul(pooled, this.projection);
    });
  }

  /** Text features [B, E] (not normalised) of token ids [B, length], pooled at each row's arg-max id. */
  encodeIds(ids: Int32Array, batch: number, length: number): Float32Array {
    const tf = this.tf;
    const eot = eotPositions(ids, batch, length);
    const t = Math.max(...eot) + 1;
    const cut = new Int32Array(batch * t);
    for (let b = 0; b < batch; b++) cut.set(ids.subarray(b * length, b * length + t), b * t);
    const out = tf.tidy(() => this.forwardEmbeddings(this.embedTokens(cut, batch, t), eot));
    const data = out.dataSync() as Float32Array;
    out.dispose();
    return data;
  }

  dispose(): void {
    for (const t of this.owned) t.dispose();
    for (const m of this.masks.values()) m.dispose();
    this.masks.clear();
  }
}

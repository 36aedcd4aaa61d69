// A synthetic prompt-learning data set on the random-weight text model (src/clip/synthetic-text.ts):
// a *simulation*, not CLIP. A hidden "true" context per data set, c* = the token embeddings of the
// handcrafted template's words + shift·0.02·N(0, 1) per value, makes the true class text features
// t*_k = T([SOT] c* name_k [.] [EOT]); image features are f = normalise(t*_k + σ·ε/√E), ε ~ N(0, I_E).
// The handcrafted prompt ("a photo of a {}.") is then only partly right: zero-shot with it is
// imperfect, and a context learned from labelled features can approach the hidden one.
import type { ClipTextModel } from '../../clip/text-model.js';
import type { ClipTokenizer } from '../../clip/tokenizer.js';
import { createRng } from '../../random/rng.js';
import type { Tf } from '../train/backend.js';
import { promptLayout } from './layout.js';

/** DTD's 47 texture classes (names only). */
export const DTD_CLASSES = [
  'banded', 'blotchy', 'braided', 'bubbly', 'bumpy', 'chequered', 'cobwebbed', 'cracked', 'crosshatched', 'crystalline',
  'dotted', 'fibrous', 'flecked', 'freckled', 'frilly', 'gauzy', 'grid', 'grooved', 'honeycombed', 'interlaced',
  'knitted', 'lacelike', 'lined', 'marbled', 'matted', 'meshed', 'paisley', 'perforated', 'pitted', 'pleated',
  'polka-dotted', 'porous', 'potholed', 'scaly', 'smeared', 'spiralled', 'sprinkled', 'stained', 'stratified', 'striped',
  'studded', 'swirly', 'veined', 'waffled', 'woven', 'wrinkled', 'zigzagged',
] as const;

export interface SyntheticPromptOptions {
  numClasses: number;
  trainPerClass: number;
  testPerClass: number;
  /** The handcrafted template's context words (CoOp's ctx_init), e.g. "a photo of a". */
  template: string;
  /** How far the hidden context is from the template's words, in units of 0.02 per value. */
  shift: number;
  /** σ of the image-feature noise around the true class text feature. */
  noise: number;
  seed: number;
}

export interface SyntheticPrompts {
  classes: string[];
  trainFeatures: Float32Array;
  trainLabels: Int32Array;
  testFeatures: Float32Array;
  testLabels: Int32Array;
  dim: number;
  /** [K, 1, E] normalised features of the handcrafted prompts "<template> <name>.". */
  textFeatures: Float32Array;
  /** [K, E] normalised features of the hidden true prompts. */
  trueTextFeatures: Float32Array;
}

export class SyntheticPromptError extends RangeError {
  override name = 'SyntheticPromptError';
}

function normaliseRows(x: Float32Array, n: number, d: number): Float32Array {
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let q = 0; q < d; q++) s += x[i * d + q] ** 2;
    const inv = 1 / Math.sqrt(s || 1);
    for (let q = 0; q < d; q++) x[i * d + q] *= inv;
  }
  return x;
}

/** Text features [K, E] (normalised) of "<ctx> <name>." with the given context embeddings [n, W]. */
export function contextTextFeatures(tf: Tf, model: ClipTextModel, tokenizer: ClipTokenizer, classes: readonly string[], ctx: Float32Array): Float32Array {
  const width = model.config.width;
  const nCtx = ctx.length / width;
  const layout = promptLayout(
    { classTokens: classes.map((c) => tokenizer.encode(c)), suffix: tokenizer.encode('.'), sot: tokenizer.startOfText, eot: tokenizer.endOfText },
    nCtx, 'end', model.config.contextLength,
  );
  const k = classes.length;
  const out = tf.tidy(() => {
    const fixed = model.embedTokens(layout.ids, k, layout.length);
    // Context rows replace the slots (they hold token 0's embedding in `fixed`).
    const full = new Float32Array(k * layout.length * width);
    const base = fixed.dataSync();
    for (let c = 0; c < k; c++) {
      for (let t = 0; t < layout.length; t++) {
        const s = layout.slot[c * layout.length + t];
        const src = s < 0 ? base.subarray((c * layout.length + t) * width, (c * layout.length + t + 1) * width) : ctx.subarray(s * width, (s + 1) * width);
        full.set(src, (c * layout.length + t) * width);
      }
    }
    return model.forwardEmbeddings(tf.tensor3d(full, [k, layout.length, width]), layout.eot);
  });
  const data = Float32Array.from(out.dataSync());
  out.dispose();
  return normaliseRows(data, k, model.config.embedDim);
}

/** The token embeddings [n, W] of `words` (no start/end tokens). */
export function wordEmbeddings(tf: Tf, model: ClipTextModel, tokenizer: ClipTokenizer, words: string): Float32Array {
  const ids = Int32Array.from(tokenizer.encode(words));
  if (ids.length === 0) throw new SyntheticPromptError(`"${words}" has no tokens`);
  const t = model.embedTokens(ids, 1, ids.length);
  const data = Float32Array.from(t.dataSync());
  t.dispose();
  return data;
}

export function generateSyntheticPrompts(tf: Tf, model: ClipTextModel, tokenizer: ClipTokenizer, o: SyntheticPromptOptions): SyntheticPrompts {
  if (!Number.isInteger(o.numClasses) || o.numClasses < 2 || o.numClasses > DTD_CLASSES.length) {
    throw new SyntheticPromptError(`num_classes must be an integer in [2, ${DTD_CLASSES.length}], got ${o.numClasses}`);
  }
  if (!(o.noise >= 0) || !(o.shift >= 0)) throw new SyntheticPromptError('noise and shift must be ≥ 0');
  const classes = DTD_CLASSES.slice(0, o.numClasses).map(String);
  const k = classes.length;
  const e = model.config.embedDim;
  const rng = createRng(o.seed, 'synthetic-prompts');
  const words = wordEmbeddings(tf, model, tokenizer, o.template);
  const shiftRng = rng.fork('hidden-context');
  const hidden = Float32Array.from(words, (v) => v + o.shift * 0.02 * shiftRng.normal());
  const trueText = contextTextFeatures(tf, model, tokenizer, classes, hidden);
  const handcrafted = contextTextFeatures(tf, model, tokenizer, classes, words);
  const draw = (perClass: number, stream: string) => {
    const r = rng.fork(stream);
    const n = perClass * k;
    const x = new Float32Array(n * e);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % k;
      y[i] = c;
      for (let q = 0; q < e; q++) x[i * e + q] = trueText[c * e + q] + (o.noise / Math.sqrt(e)) * r.normal();
    }
    return { x: normaliseRows(x, n, e), y };
  };
  const train = draw(o.trainPerClass, 'train');
  const test = draw(o.testPerClass, 'test');
  return {
    classes, dim: e,
    trainFeatures: train.x, trainLabels: train.y, testFeatures: test.x, testLabels: test.y,
    textFeatures: handcrafted, trueTextFeatures: trueText,
  };
}

// CoOp prompt learning (src/methods/prompt/): layouts, the context splice against the text model on
// the equivalent token ids, robust similarity's filter, few-shot sampling, and learning on the
// synthetic prompt set (a learned context beats the handcrafted one; GCE holds up under noise).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticTextWeights, syntheticTokenizer } from '../../src/clip/synthetic-text.js';
import { ClipTextModel } from '../../src/clip/text-model.js';
import type { ClipTokenizer } from '../../src/clip/tokenizer.js';
import { PromptLearner, predictWithText, promptTune, robustAlpha, robustSelect, type PromptTuneOptions } from '../../src/methods/prompt/coop.js';
import { promptLayout, PromptLayoutError } from '../../src/methods/prompt/layout.js';
import { sampleShots } from '../../src/methods/prompt/shots.js';
import { contextTextFeatures, generateSyntheticPrompts, wordEmbeddings, type SyntheticPrompts } from '../../src/methods/prompt/synthetic.js';
import { selectBackend, type Tf } from '../../src/methods/train/backend.js';
import { createRng } from '../../src/random/rng.js';

let tf: Tf;
let model: ClipTextModel;
let tok: ClipTokenizer;
const E = 32;

beforeAll(async () => {
  tf = (await selectBackend('wasm')).tf;
  model = new ClipTextModel(tf, syntheticTextWeights({ width: 32, layers: 2, heads: 4, embed_dim: E, seed: 1 }));
  tok = syntheticTokenizer();
});
afterAll(() => model?.dispose());

function accuracy(probs: Float32Array, labels: Int32Array, k: number): number {
  let hit = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (probs[i * k + c] > probs[i * k + best]) best = c;
    if (best === labels[i]) hit++;
  }
  return hit / labels.length;
}

const tokens = (classes: string[]) => ({ classTokens: classes.map((c) => tok.encode(c)), suffix: tok.encode('.'), sot: tok.startOfText, eot: tok.endOfText });

describe('prompt layout', () => {
  it('places the context at the end, in the middle or in front of the class name', () => {
    const t = { classTokens: [[7, 8], [9]], suffix: [5], sot: 100, eot: 101 };
    const end = promptLayout(t, 3, 'end', 77);
    expect(end.length).toBe(8);
    expect(Array.from(end.ids.subarray(0, 8))).toEqual([100, 0, 0, 0, 7, 8, 5, 101]);
    expect(Array.from(end.slot.subarray(0, 8))).toEqual([-1, 0, 1, 2, -1, -1, -1, -1]);
    expect(Array.from(end.eot)).toEqual([7, 6]);
    const middle = promptLayout(t, 3, 'middle', 77);
    expect(Array.from(middle.slot.subarray(8, 16))).toEqual([-1, 0, -1, 1, 2, -1, -1, -1]);
    expect(Array.from(middle.ids.subarray(8, 16))).toEqual([100, 0, 9, 0, 0, 5, 101, 0]);
    const front = promptLayout(t, 3, 'front', 77);
    expect(Array.from(front.ids.subarray(0, 8))).toEqual([100, 7, 8, 0, 0, 0, 5, 101]);
    expect(() => promptLayout(t, 80, 'end', 77)).toThrow(PromptLayoutError);
  });
});

describe('prompt learner', () => {
  it('splices the context so that the prompt equals the same words as tokens', () => {
    const classes = ['striped', 'dotted', 'woven'];
    const words = wordEmbeddings(tf, model, tok, 'a photo of a');
    for (const position of ['end', 'front'] as const) {
      const layout = promptLayout(tokens(classes), words.length / 32, position, 77);
      const learner = new PromptLearner(tf, model, layout, 1, false, words);
      try {
        const spliced = tf.tidy(() => learner.textFeatures().dataSync() as Float32Array);
        const texts = classes.map((c) => (position === 'end' ? `a photo of a ${c}.` : `${c} a photo of a.`));
        const direct = model.encodeIds(tok.tokenize(texts), 3, 77);
        for (let c = 0; c < 3; c++) {
          const row = direct.subarray(c * E, (c + 1) * E);
          const norm = Math.hypot(...row);
          for (let q = 0; q < E; q++) expect(Math.abs(spliced[c * E + q] - row[q] / norm)).toBeLessThan(1e-5);
        }
      } finally {
        learner.dispose();
      }
    }
    // contextTextFeatures (the synthetic source's) agrees with the learner.
    const viaSource = contextTextFeatures(tf, model, tok, classes, words);
    const direct = model.encodeIds(tok.tokenize(classes.map((c) => `a photo of a ${c}.`)), 3, 77);
    expect(Math.abs(viaSource[0] - direct[0] / Math.hypot(...direct.subarray(0, E)))).toBeLessThan(1e-5);
  });

  it('predicts the same from fixed text features as through the model', () => {
    const classes = ['banded', 'bumpy', 'grid'];
    const layout = promptLayout(tokens(classes), 4, 'end', 77);
    const rng = createRng(2, 'init');
    const init = Float32Array.from({ length: 2 * 4 * 32 }, () => rng.normal() * 0.02);
    const learner = new PromptLearner(tf, model, layout, 2, false, init);
    try {
      const x = Float32Array.from({ length: 5 * E }, () => rng.normal());
      const text = tf.tidy(() => tf.transpose(tf.reshape(learner.textFeatures(), [2, 3, E]), [1, 0, 2]).dataSync() as Float32Array);
      for (const rule of ['probs', 'logits'] as const) {
        const a = learner.predict(Float32Array.from({ length: 5 * E }, (_, i) => x[i] / Math.hypot(...x.subarray(Math.floor(i / E) * E, Math.floor(i / E) * E + E))), 5, 50, rule);
        const b = predictWithText(text, 3, 2, x, 5, 50, rule);
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-4);
      }
    } finally {
      learner.dispose();
    }
  });
});

describe('robust similarity', () => {
  it('grows α from a to 1 and leaves out the lowest G per class', () => {
    expect(robustAlpha(0.2, 35, 0)).toBeCloseTo(0.2);
    expect(robustAlpha(0.2, 35, 49)).toBeCloseTo(0.2 * Math.exp(49 / 35));
    expect(robustAlpha(0.2, 35, 100)).toBe(1);
    // Class 0: four samples near e1 and one far (noisy); class 1 near e2.
    const f = Float32Array.from([1, 0, 0.99, 0.1, 0.98, -0.1, 0.97, 0.05, 0, 1, /* class 1 */ 0, 1, 0.1, 0.99, -0.1, 0.99, 0.05, 0.97, 1, 0]);
    const labels = Int32Array.from([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    const probs = new Float32Array(20).fill(0.5);
    const all = new Uint8Array(10).fill(1);
    const sel = robustSelect(f, 2, probs, labels, all, 2, 0.2, { kind: 'fraction', drop: 0.2 });
    expect(sel.kept).toBe(8);
    expect(sel.keep[4]).toBe(0);
    expect(sel.keep[9]).toBe(0);
    // With α = 1 only ỹ counts: a confident prediction rescues the far sample.
    probs[4 * 2] = 1;
    probs[0] = 0;
    const byModel = robustSelect(f, 2, probs, labels, all, 2, 1, { kind: 'fraction', drop: 0.2 });
    expect(byModel.keep[4]).toBe(1);
    expect(byModel.keep[0]).toBe(0);
    const thr = robustSelect(f, 2, probs, labels, all, 2, 0.2, { kind: 'threshold', value: 10 });
    expect(thr.kept).toBe(2); // each class keeps its best
  });
});

describe('few-shot sampling', () => {
  it('takes `shots` random samples per class of the set, seeded', () => {
    const labels = Int32Array.from({ length: 100 }, (_, i) => i % 4);
    const mask = Uint8Array.from({ length: 100 }, (_, i) => (i < 90 ? 1 : 0));
    const a = sampleShots(labels, 4, 5, createRng(1), mask);
    const counts = [0, 0, 0, 0];
    a.forEach((v, i) => {
      if (v) {
        counts[labels[i]]++;
        expect(mask[i]).toBe(1);
      }
    });
    expect(counts).toEqual([5, 5, 5, 5]);
    expect(sampleShots(labels, 4, 5, createRng(1), mask)).toEqual(a);
    expect(sampleShots(labels, 4, 5, createRng(2), mask)).not.toEqual(a);
    // Fewer than `shots` in a class: all of them.
    expect(sampleShots(Int32Array.from([0, 0, 1]), 2, 4, createRng(1)).reduce((s, v) => s + v, 0)).toBe(3);
  });
});

describe('prompt tuning on the synthetic prompt set', () => {
  let data: SyntheticPrompts;
  const K = 5;
  const base = (): Omit<PromptTuneOptions, 'layout' | 'ctxInit'> => ({
    initStd: 0.02, csc: false, blocks: 1, ensemble: 'probs', logitScale: 100, loss: { kind: 'ce' }, sampler: 'shuffle',
    epochs: 8, batchSize: 16, lr: 0.002, momentum: 0.9, weightDecay: 5e-4, schedule: { kind: 'cosine' }, warmupEpochs: 1,
    mixfix: null, robust: null, seed: 0,
  });

  beforeAll(() => {
    data = generateSyntheticPrompts(tf, model, tok, { numClasses: K, trainPerClass: 16, testPerClass: 40, template: 'a photo of a', shift: 3, noise: 0.5, seed: 0 });
  });

  function run(labels: Int32Array, overrides: Partial<PromptTuneOptions> = {}) {
    const words = wordEmbeddings(tf, model, tok, 'a photo of a');
    const layout = promptLayout(tokens(data.classes), words.length / 32, 'end', 77);
    const r = promptTune(tf, model, { features: data.trainFeatures, numSamples: labels.length, dim: E, labels, trueLabels: data.trainLabels }, { ...base(), layout, ctxInit: words, ...overrides });
    const test = predictWithText(r.textFeatures, K, overrides.blocks ?? 1, data.testFeatures, data.testLabels.length, 100, 'probs');
    return { r, acc: accuracy(test, data.testLabels, K) };
  }

  it('learns a context that beats the handcrafted prompt, deterministically', () => {
    const zeroShot = accuracy(predictWithText(data.textFeatures, K, 1, data.testFeatures, data.testLabels.length, 100, 'probs'), data.testLabels, K);
    const a = run(data.trainLabels);
    expect(a.r.history).toHaveLength(8);
    expect(a.r.history[7].loss).toBeLessThan(a.r.history[0].loss);
    expect(a.acc).toBeGreaterThan(zeroShot + 0.1);
    const b = run(data.trainLabels);
    expect(b.r.context).toEqual(a.r.context);
    expect(a.r.contextShape).toEqual([1, 1, 9, 32]);
  });

  it('reports robust similarity per epoch: α, kept counts and their precision', () => {
    const noisy = Int32Array.from(data.trainLabels, (y, i) => (i % 4 === 0 ? (y + 1) % K : y));
    const { r } = run(noisy, { epochs: 3, blocks: 2, loss: { kind: 'gce', q: 0.7 }, robust: { a: 0.2, b: 35, filter: { kind: 'fraction', drop: 0.25 } } });
    expect(r.history.map((h) => h.alpha)).toEqual([0, 1, 2].map((e) => robustAlpha(0.2, 35, e)));
    for (const h of r.history) {
      expect(h.kept).toBe(h.setSize);
      expect(h.kept).toBeLessThan(noisy.length);
      // The filter keeps cleaner samples than the 75 % clean input.
      expect(h.precision!).toBeGreaterThan(0.75);
    }
    expect(r.textFeatures).toHaveLength(K * 2 * E);
  });
});

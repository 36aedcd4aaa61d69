// A *simulation* of CLIP features, for tests and for trying pipelines without a model or data set.
// Nothing here comes from CLIP: it builds class prototypes and sample noise so that, on the seeded
// draw, zero-shot classification and the best linear classifier reach chosen accuracies.
//
// Construction (all unit vectors in R^D):
//   image prototypes μ_k: random directions; for each "look-alike" pair (a, b), μ_b is rotated
//     to cosine LOOKALIKE_COSINE with μ_a so those classes are easily confused;
//   image features f_i = normalise(μ_{y_i} + σ ε_i), ε_i ~ N(0, I_D);
//   text embeddings t_k = cos θ · μ_k + sin θ · v_k, v_k a random unit vector orthogonal to μ_k.
// With isotropic noise and unit prototypes the Bayes classifier is argmax_k <f, μ_k>, which is
// linear, so a trained linear probe approaches its accuracy; σ is bisected so that it equals
// `linearProbeAccuracy` on the draw. θ then rotates the text embeddings away from the prototypes
// and is bisected so that zero-shot accuracy (argmax_k <f, t_k>) equals `zeroShotAccuracy`.
// Both bisections score all samples through precomputed projections, O(N·K) per step.
import { createRng, type Rng } from '../random/rng.js';
import { tensor, type Tensor } from '../runtime/tensor.js';

export interface SyntheticOptions {
  numClasses: number;
  dim: number;
  trainPerClass: number;
  testPerClass: number;
  /** Target accuracy of zero-shot classification with the text embeddings. */
  zeroShotAccuracy: number;
  /** Target accuracy of the best linear classifier on the image features. */
  linearProbeAccuracy: number;
  /** Number of disjoint class pairs whose prototypes are close. */
  lookalikePairs: number;
  seed: number;
}

export interface SyntheticClip {
  trainFeatures: Tensor<'float32'>;
  trainLabels: Int32Array;
  testFeatures: Tensor<'float32'>;
  testLabels: Int32Array;
  /** Class text embeddings [K, 1, D] (one prompt per class). */
  textFeatures: Tensor<'float32'>;
  classes: string[];
  /** The look-alike class pairs. */
  lookalikePairs: [number, number][];
  /** Calibrated sample-noise scale σ and text rotation angle θ (radians). */
  noiseScale: number;
  textAngle: number;
  /** Accuracies the calibration reached on all drawn samples (train and test together). */
  calibratedLinearProbeAccuracy: number;
  calibratedZeroShotAccuracy: number;
}

export class SyntheticParamError extends RangeError {
  override name = 'SyntheticParamError';
}

/** Cosine between the prototypes of a look-alike pair (random pairs sit near 0 in 64 dimensions). */
export const LOOKALIKE_COSINE = 0.9;

const BISECTION_STEPS = 50;

function check(condition: boolean, param: string, message: string): void {
  if (!condition) throw new SyntheticParamError(`synthetic: ${param} ${message}`);
}

/** Throws a SyntheticParamError naming the first option that is out of range (or the combination). */
export function validateSyntheticOptions(o: SyntheticOptions): void {
  const isInt = (v: number, min: number): boolean => Number.isInteger(v) && v >= min;
  check(isInt(o.numClasses, 2), 'num_classes', `must be an integer ≥ 2, got ${o.numClasses}`);
  check(isInt(o.dim, 2), 'dim', `must be an integer ≥ 2, got ${o.dim}`);
  check(isInt(o.trainPerClass, 1), 'train_per_class', `must be an integer ≥ 1, got ${o.trainPerClass}`);
  check(isInt(o.testPerClass, 0), 'test_per_class', `must be an integer ≥ 0, got ${o.testPerClass}`);
  const chance = 1 / o.numClasses;
  check(o.linearProbeAccuracy > chance && o.linearProbeAccuracy <= 1, 'linear_probe_accuracy',
    `must be in (1/K, 1] = (${chance.toFixed(4)}, 1], got ${o.linearProbeAccuracy}`);
  check(o.zeroShotAccuracy > 0 && o.zeroShotAccuracy <= o.linearProbeAccuracy, 'zero_shot_accuracy',
    `must be in (0, linear_probe_accuracy = ${o.linearProbeAccuracy}] (zero-shot cannot beat the best linear classifier), got ${o.zeroShotAccuracy}`);
  check(isInt(o.lookalikePairs, 0) && o.lookalikePairs <= Math.floor(o.numClasses / 2), 'lookalike_pairs',
    `must be an integer in [0, ${Math.floor(o.numClasses / 2)}] (disjoint pairs of ${o.numClasses} classes), got ${o.lookalikePairs}`);
  check(Number.isFinite(o.seed), 'seed', `must be a finite number, got ${o.seed}`);
}

function normaliseInPlace(v: Float64Array): void {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < v.length; i++) v[i] *= inv;
}

function randomUnit(dim: number, rng: Rng): Float64Array {
  const v = new Float64Array(dim);
  for (let d = 0; d < dim; d++) v[d] = rng.normal();
  normaliseInPlace(v);
  return v;
}

/** A random unit vector orthogonal to unit vector `u`. */
function orthogonalUnit(u: Float64Array, rng: Rng): Float64Array {
  const v = randomUnit(u.length, rng);
  let dot = 0;
  for (let d = 0; d < u.length; d++) dot += u[d] * v[d];
  for (let d = 0; d < u.length; d++) v[d] -= dot * u[d];
  normaliseInPlace(v);
  return v;
}

/** Labels 0..K-1, `perClass` each, in a random order. */
function shuffledLabels(numClasses: number, perClass: number, rng: Rng): Int32Array {
  const order = rng.permutation(numClasses * perClass);
  const labels = new Int32Array(order.length);
  for (let i = 0; i < order.length; i++) labels[i] = order[i] % numClasses;
  return labels;
}

/** rows(A) · rows(B)ᵀ for flat row-major A [n, d], B [m, d]. */
function gram(a: Float64Array, n: number, b: Float64Array, m: number, d: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += a[i * d + k] * b[j * d + k];
      out[i * m + j] = s;
    }
  }
  return out;
}

/**
 * Accuracy of argmax_k of  α (P[y_i, k] + σ Q[i, k]) + β (R[y_i, k] + σ S[i, k])  against y_i, where
 * P, R are [K, K] and Q, S are [N, K]: the score of every classifier we calibrate.
 */
function accuracyOf(
  labels: Int32Array, K: number, sigma: number, alpha: number, beta: number,
  P: Float64Array, Q: Float64Array, R: Float64Array, S: Float64Array,
): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    let best = -Infinity;
    let arg = -1;
    for (let k = 0; k < K; k++) {
      const s = alpha * (P[y * K + k] + sigma * Q[i * K + k]) + beta * (R[y * K + k] + sigma * S[i * K + k]);
      if (s > best) {
        best = s;
        arg = k;
      }
    }
    if (arg === y) correct++;
  }
  return correct / labels.length;
}

/** The largest x in [lo, hi] with accuracy(x) ≥ target, for an accuracy that falls as x grows. */
function bisectLargest(accuracy: (x: number) => number, lo: number, hi: number, target: number): number {
  for (let step = 0; step < BISECTION_STEPS; step++) {
    const mid = (lo + hi) / 2;
    if (accuracy(mid) >= target) lo = mid;
    else hi = mid;
  }
  return lo;
}

export function generateSyntheticClip(options: SyntheticOptions): SyntheticClip {
  validateSyntheticOptions(options);
  const { numClasses: K, dim: D, trainPerClass, testPerClass, seed } = options;
  const rng = createRng(seed, 'synthetic-clip');

  const protoRng = rng.fork('prototypes');
  const protos = new Float64Array(K * D);
  for (let k = 0; k < K; k++) protos.set(randomUnit(D, protoRng), k * D);
  const order = rng.fork('pairs').permutation(K);
  const pairs: [number, number][] = [];
  for (let p = 0; p < options.lookalikePairs; p++) {
    const a = order[2 * p];
    const b = order[2 * p + 1];
    pairs.push([a, b]);
    const ua = protos.subarray(a * D, (a + 1) * D);
    const w = orthogonalUnit(ua, protoRng);
    const s = Math.sqrt(1 - LOOKALIKE_COSINE * LOOKALIKE_COSINE);
    for (let d = 0; d < D; d++) protos[b * D + d] = LOOKALIKE_COSINE * ua[d] + s * w[d];
  }
  const textRng = rng.fork('text');
  const textDirs = new Float64Array(K * D);
  for (let k = 0; k < K; k++) textDirs.set(orthogonalUnit(protos.subarray(k * D, (k + 1) * D), textRng), k * D);

  const trainLabels = shuffledLabels(K, trainPerClass, rng.fork('train-order'));
  const testLabels = shuffledLabels(K, testPerClass, rng.fork('test-order'));
  const labels = new Int32Array(trainLabels.length + testLabels.length);
  labels.set(trainLabels);
  labels.set(testLabels, trainLabels.length);
  const N = labels.length;
  const noiseRng = rng.fork('sample-noise');
  const noise = new Float64Array(N * D);
  for (let i = 0; i < noise.length; i++) noise[i] = noiseRng.normal();

  // Projections that let every bisection step score all samples in O(N·K).
  const protoGram = gram(protos, K, protos, K, D); // <μ_y, μ_k>
  const noiseOnProtos = gram(noise, N, protos, K, D); // <ε_i, μ_k>
  const protoOnText = gram(protos, K, textDirs, K, D); // <μ_y, v_k>
  const noiseOnText = gram(noise, N, textDirs, K, D); // <ε_i, v_k>

  const probeAccuracy = (logSigma: number): number =>
    accuracyOf(labels, K, Math.exp(logSigma), 1, 0, protoGram, noiseOnProtos, protoOnText, noiseOnText);
  const sigma = Math.exp(bisectLargest(probeAccuracy, Math.log(1e-4), Math.log(1e4), options.linearProbeAccuracy));
  const zeroShotAccuracy = (theta: number): number =>
    accuracyOf(labels, K, sigma, Math.cos(theta), Math.sin(theta), protoGram, noiseOnProtos, protoOnText, noiseOnText);
  // θ = π turns each text embedding away from its class, so every target down to ~0 is reachable.
  const theta = bisectLargest(zeroShotAccuracy, 0, Math.PI, options.zeroShotAccuracy);

  const features = new Float32Array(N * D);
  const x = new Float64Array(D);
  for (let i = 0; i < N; i++) {
    const y = labels[i];
    for (let d = 0; d < D; d++) x[d] = protos[y * D + d] + sigma * noise[i * D + d];
    normaliseInPlace(x);
    for (let d = 0; d < D; d++) features[i * D + d] = x[d];
  }
  const text = new Float32Array(K * D);
  const t = new Float64Array(D);
  for (let k = 0; k < K; k++) {
    for (let d = 0; d < D; d++) t[d] = Math.cos(theta) * protos[k * D + d] + Math.sin(theta) * textDirs[k * D + d];
    normaliseInPlace(t);
    for (let d = 0; d < D; d++) text[k * D + d] = t[d];
  }
  const nTrain = trainLabels.length;
  return {
    trainFeatures: tensor('float32', [nTrain, D], features.slice(0, nTrain * D)),
    trainLabels,
    testFeatures: tensor('float32', [testLabels.length, D], features.slice(nTrain * D)),
    testLabels,
    textFeatures: tensor('float32', [K, 1, D], text),
    classes: Array.from({ length: K }, (_, k) => `class_${k}`),
    lookalikePairs: pairs,
    noiseScale: sigma,
    textAngle: theta,
    calibratedLinearProbeAccuracy: probeAccuracy(Math.log(sigma)),
    calibratedZeroShotAccuracy: zeroShotAccuracy(theta),
  };
}

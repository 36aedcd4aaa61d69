// Synthetic label noise (methods.md, "Noise models"): symmetric, asymmetric (a class map or a full
// transition matrix), instance-dependent (Xia et al. 2020, part-dependent) and confusion (PTNL:
// CLIP's favourite wrong class). Pure functions over flat typed arrays; every draw is seeded.
import { CIFAR100_FINE_CLASSES, CIFAR10_CLASSES } from '../data/cifar-classes.js';
import { createRng, type Rng } from '../random/rng.js';
import type { Tensor } from '../runtime/tensor.js';

/** A noise request that cannot be met; the message names the offending parameter. */
export class NoiseParamError extends RangeError {
  override name = 'NoiseParamError';
}

export interface NoisyLabels {
  noisyLabels: Int32Array;
  /** 1 where the noisy label differs from the true one. */
  flipMask: Uint8Array;
}

export type NoiseReport = {
  model: string;
  /** The rate asked for; null when a transition matrix sets it. */
  requested_rate: number | null;
  /** The flip fraction the model implies in expectation (e.g. r(K-1)/K for symmetric over all K). */
  expected_rate: number;
  realised_rate: number;
  num_samples: number;
  num_flipped: number;
  /** Fraction of each true class that was flipped; null for a class with no samples. */
  per_class_realised_rate: (number | null)[];
  /** counts[true][noisy]. */
  transition_counts: number[][];
  /** counts row-normalised; null rows for classes with no samples. */
  transition_matrix: (number[] | null)[];
};

export interface NoiseResult extends NoisyLabels {
  report: NoiseReport;
}

// ---------------------------------------------------------------------------------------------
// Standard class maps

/** CIFAR-10 by index: truck→automobile, bird→airplane, deer→horse, cat→dog, dog→cat. */
export const CIFAR10_ASYMMETRIC_MAP: Readonly<Record<number, number>> = { 9: 1, 2: 0, 4: 7, 3: 5, 5: 3 };

/**
 * CIFAR-100's 20 super-classes, each as its 5 fine-class indices (ascending), in coarse-label
 * order; e.g. aquatic mammals = beaver 4, dolphin 30, otter 55, seal 72, whale 95.
 */
export const CIFAR100_SUPERCLASS_MEMBERS: readonly (readonly number[])[] = [
  [4, 30, 55, 72, 95], // aquatic mammals
  [1, 32, 67, 73, 91], // fish
  [54, 62, 70, 82, 92], // flowers
  [9, 10, 16, 28, 61], // food containers
  [0, 51, 53, 57, 83], // fruit and vegetables
  [22, 39, 40, 86, 87], // household electrical devices
  [5, 20, 25, 84, 94], // household furniture
  [6, 7, 14, 18, 24], // insects
  [3, 42, 43, 88, 97], // large carnivores
  [12, 17, 37, 68, 76], // large man-made outdoor things
  [23, 33, 49, 60, 71], // large natural outdoor scenes
  [15, 19, 21, 31, 38], // large omnivores and herbivores
  [34, 63, 64, 66, 75], // medium-sized mammals
  [26, 45, 77, 79, 99], // non-insect invertebrates
  [2, 11, 35, 46, 98], // people
  [27, 29, 44, 78, 93], // reptiles
  [36, 50, 65, 74, 80], // small mammals
  [47, 52, 56, 59, 96], // trees
  [8, 13, 48, 58, 90], // vehicles 1
  [41, 69, 81, 85, 89], // vehicles 2
];

/** Each CIFAR-100 fine class to the next one within its super-class, cyclically (by index). */
export function cifar100AsymmetricMap(): Int32Array {
  const map = new Int32Array(100);
  for (const members of CIFAR100_SUPERCLASS_MEMBERS) {
    members.forEach((fine, j) => (map[fine] = members[(j + 1) % members.length]));
  }
  return map;
}

export type ClassRef = string | number;
export type NoiseMapSpec = 'cifar10' | 'cifar100' | Readonly<Record<string, ClassRef>>;

function isPermutationOf(classes: readonly string[], reference: readonly string[]): boolean {
  if (classes.length !== reference.length) return false;
  const set = new Set(classes);
  return set.size === reference.length && reference.every((c) => set.has(c));
}

/**
 * Resolves a standard map given by reference-order indices against the data set's class list:
 * by name when the classes are the reference names (in any order), by index otherwise.
 */
function standardMap(name: string, reference: readonly string[], byIndex: Int32Array, classes: readonly string[]): Int32Array {
  if (classes.length !== reference.length) {
    throw new NoiseParamError(`map: "${name}" needs ${reference.length} classes but the labels have ${classes.length}`);
  }
  if (!isPermutationOf(classes, reference)) return byIndex;
  const index = new Map(classes.map((c, i) => [c, i]));
  const out = new Int32Array(classes.length).fill(-1);
  byIndex.forEach((to, from) => {
    if (to >= 0) out[index.get(reference[from])!] = index.get(reference[to])!;
  });
  return out;
}

function classIndex(ref: ClassRef, classes: readonly string[], role: string): number {
  if (typeof ref === 'string') {
    const named = classes.indexOf(ref);
    if (named >= 0) return named;
  }
  const n = typeof ref === 'number' ? ref : /^\d+$/.test(ref) ? Number(ref) : NaN;
  if (Number.isInteger(n) && n >= 0 && n < classes.length) return n;
  const shown = classes.slice(0, 12).join(', ') + (classes.length > 12 ? ', …' : '');
  throw new NoiseParamError(
    `map: ${role} "${ref}" is not a class name or an index below ${classes.length} (classes: ${shown})`,
  );
}

/** The target class of each class (−1 where the map leaves it alone). */
export function resolveClassMap(spec: NoiseMapSpec, classes: readonly string[]): Int32Array {
  if (spec === 'cifar10') {
    const byIndex = new Int32Array(10).fill(-1);
    for (const [from, to] of Object.entries(CIFAR10_ASYMMETRIC_MAP)) byIndex[Number(from)] = to;
    return standardMap('cifar10', CIFAR10_CLASSES, byIndex, classes);
  }
  if (spec === 'cifar100') return standardMap('cifar100', CIFAR100_FINE_CLASSES, cifar100AsymmetricMap(), classes);
  if (typeof spec !== 'object' || spec === null) throw new NoiseParamError(`map: expected "cifar10", "cifar100" or an object {from: to}, got ${JSON.stringify(spec)}`);
  const out = new Int32Array(classes.length).fill(-1);
  for (const [fromRef, toRef] of Object.entries(spec)) {
    const from = classIndex(fromRef, classes, 'source class');
    const to = classIndex(toRef, classes, 'target class');
    if (from === to) throw new NoiseParamError(`map: class "${fromRef}" is mapped to itself`);
    if (out[from] >= 0) throw new NoiseParamError(`map: class "${classes[from]}" is mapped twice`);
    out[from] = to;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Noise models

function checkRate(rate: number): void {
  if (!(rate >= 0 && rate <= 1)) throw new NoiseParamError(`rate must be in [0, 1], got ${rate}`);
}

function maskOf(trueLabels: Int32Array, noisy: Int32Array): Uint8Array {
  const mask = new Uint8Array(trueLabels.length);
  for (let i = 0; i < mask.length; i++) mask[i] = noisy[i] !== trueLabels[i] ? 1 : 0;
  return mask;
}

/** The first `count` entries of a seeded permutation of 0..n-1: which samples get a new label. */
function chooseSamples(n: number, count: number, rng: Rng): Int32Array {
  return rng.permutation(n).subarray(0, count);
}

/**
 * Symmetric noise: round(rate·N) samples, chosen at random, get a class drawn uniformly from all K
 * classes (`includeTrueClass`, so about 1/K of them keep their label) or from the K−1 others.
 */
export function symmetricNoise(labels: Int32Array, K: number, rate: number, includeTrueClass: boolean, rng: Rng): NoisyLabels {
  checkRate(rate);
  const noisy = labels.slice();
  for (const i of chooseSamples(labels.length, Math.round(rate * labels.length), rng)) {
    if (includeTrueClass) noisy[i] = rng.int(K);
    else {
      const k = rng.int(K - 1);
      noisy[i] = k >= labels[i] ? k + 1 : k;
    }
  }
  return { noisyLabels: noisy, flipMask: maskOf(labels, noisy) };
}

/**
 * Class-map noise: in every mapped class c exactly round(rate·n_c) samples, chosen at random, move
 * to `target[c]`; classes with target −1 never change.
 */
export function asymmetricNoise(labels: Int32Array, K: number, rate: number, target: Int32Array, rng: Rng): NoisyLabels {
  checkRate(rate);
  const noisy = labels.slice();
  const members: number[][] = Array.from({ length: K }, () => []);
  for (let i = 0; i < labels.length; i++) members[labels[i]].push(i);
  for (let c = 0; c < K; c++) {
    if (target[c] < 0) continue;
    const list = members[c];
    const chosen = chooseSamples(list.length, Math.round(rate * list.length), rng);
    for (const j of chosen) noisy[list[j]] = target[c];
  }
  return { noisyLabels: noisy, flipMask: maskOf(labels, noisy) };
}

/** Checks and flattens a K×K row-stochastic matrix. */
export function checkTransitionMatrix(matrix: readonly (readonly number[])[], K: number): Float64Array {
  if (!Array.isArray(matrix) || matrix.length !== K) {
    throw new NoiseParamError(`transition must be a ${K}×${K} matrix (one row per class), got ${Array.isArray(matrix) ? matrix.length : 'no'} rows`);
  }
  const flat = new Float64Array(K * K);
  matrix.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== K) {
      throw new NoiseParamError(`transition row ${i} must have ${K} entries, got ${Array.isArray(row) ? row.length : typeof row}`);
    }
    let sum = 0;
    row.forEach((v, j) => {
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new NoiseParamError(`transition[${i}][${j}] must be a probability in [0, 1], got ${v}`);
      flat[i * K + j] = v;
      sum += v;
    });
    if (Math.abs(sum - 1) > 1e-6) throw new NoiseParamError(`transition row ${i} sums to ${sum}, not 1 (tolerance 1e-6)`);
  });
  return flat;
}

/** Draws index k with probability weights[k] / Σ weights (cumulative search with one uniform). */
function drawFrom(weights: Float64Array, u: number): number {
  let total = 0;
  for (let k = 0; k < weights.length; k++) total += weights[k];
  let acc = 0;
  const x = u * total;
  let last = -1;
  for (let k = 0; k < weights.length; k++) {
    if (weights[k] <= 0) continue;
    acc += weights[k];
    last = k;
    if (x < acc) return k;
  }
  return last; // rounding at the top end
}

/** Transition-matrix noise: each sample's noisy label is drawn from row T[y]. */
export function transitionNoise(labels: Int32Array, K: number, transition: Float64Array, rng: Rng): NoisyLabels {
  const noisy = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    noisy[i] = drawFrom(transition.subarray(y * K, (y + 1) * K), rng.next());
  }
  return { noisyLabels: noisy, flipMask: maskOf(labels, noisy) };
}

/** A draw from N(mean, std²) truncated to [0, 1] (rejection sampling, as scipy's truncnorm gives). */
function truncatedNormal01(mean: number, std: number, rng: Rng): number {
  if (std === 0) return mean;
  for (;;) {
    const z = mean + std * rng.normal();
    if (z >= 0 && z <= 1) return z;
  }
}

export interface InstanceNoise extends NoisyLabels {
  /** Per-sample flip probabilities q_i. */
  flipRates: Float64Array;
}

/**
 * Part-dependent instance noise (Xia et al. 2020): q_i ~ N(rate, std²) truncated to [0, 1]; a
 * per-class projection W_y ∈ R^{D×K} with N(0, 1) entries; p = f_i W_{y_i} with p[y_i] = −∞,
 * p = q_i · softmax(p), p[y_i] = 1 − q_i; the noisy label is drawn from p. Samples with similar
 * features get similar p, so look-alikes flip to the same classes.
 */
export function instanceNoise(
  labels: Int32Array, K: number, rate: number, features: Float32Array, D: number, rng: Rng, std = 0.1,
): InstanceNoise {
  checkRate(rate);
  if (!(std >= 0 && Number.isFinite(std))) throw new NoiseParamError(`instance_std must be a finite number ≥ 0, got ${std}`);
  const N = labels.length;
  if (features.length !== N * D) throw new NoiseParamError(`features must be [${N}, ${D}] to match the labels, got ${features.length} values`);
  const rateRng = rng.fork('flip-rates');
  const flipRates = new Float64Array(N);
  for (let i = 0; i < N; i++) flipRates[i] = truncatedNormal01(rate, std, rateRng);
  // W[y] is D×K, row-major; all K of them in one block [K, D, K].
  const wRng = rng.fork('projections');
  const W = new Float32Array(K * D * K);
  for (let j = 0; j < W.length; j++) W[j] = wRng.normal();
  const drawRng = rng.fork('draws');
  const noisy = new Int32Array(N);
  const p = new Float64Array(K);
  for (let i = 0; i < N; i++) {
    const y = labels[i];
    p.fill(0);
    const base = y * D * K;
    for (let d = 0; d < D; d++) {
      const f = features[i * D + d];
      if (f === 0) continue;
      const wRow = base + d * K;
      for (let k = 0; k < K; k++) p[k] += f * W[wRow + k];
    }
    let max = -Infinity;
    for (let k = 0; k < K; k++) if (k !== y && p[k] > max) max = p[k];
    let sum = 0;
    for (let k = 0; k < K; k++) {
      p[k] = k === y ? 0 : Math.exp(p[k] - max);
      sum += p[k];
    }
    const q = flipRates[i];
    for (let k = 0; k < K; k++) p[k] = k === y ? 1 - q : (q * p[k]) / sum;
    noisy[i] = drawFrom(p, drawRng.next());
  }
  return { noisyLabels: noisy, flipMask: maskOf(labels, noisy), flipRates };
}

/**
 * Confusion noise (PTNL): round(rate·N) samples, chosen at random, get the wrong class with the
 * highest zero-shot probability (ties to the lower index).
 */
export function confusionNoise(labels: Int32Array, K: number, rate: number, zeroshotProbs: Float32Array, rng: Rng): NoisyLabels {
  checkRate(rate);
  const N = labels.length;
  if (zeroshotProbs.length !== N * K) throw new NoiseParamError(`zeroshot_probs must be [${N}, ${K}] to match the labels and classes, got ${zeroshotProbs.length} values`);
  const noisy = labels.slice();
  for (const i of chooseSamples(N, Math.round(rate * N), rng)) {
    const y = labels[i];
    let best = -Infinity;
    let arg = -1;
    for (let k = 0; k < K; k++) {
      const v = zeroshotProbs[i * K + k];
      if (k !== y && v > best) {
        best = v;
        arg = k;
      }
    }
    noisy[i] = arg;
  }
  return { noisyLabels: noisy, flipMask: maskOf(labels, noisy) };
}

// ---------------------------------------------------------------------------------------------
// Report and dispatcher

export function noiseReport(
  model: string, trueLabels: Int32Array, noisy: Int32Array, K: number, requestedRate: number | null, expectedRate: number,
): NoiseReport {
  const counts = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  let flipped = 0;
  for (let i = 0; i < trueLabels.length; i++) {
    counts[trueLabels[i]][noisy[i]]++;
    if (noisy[i] !== trueLabels[i]) flipped++;
  }
  const rowTotals = counts.map((row) => row.reduce((a, b) => a + b, 0));
  return {
    model,
    requested_rate: requestedRate,
    expected_rate: expectedRate,
    realised_rate: trueLabels.length === 0 ? 0 : flipped / trueLabels.length,
    num_samples: trueLabels.length,
    num_flipped: flipped,
    per_class_realised_rate: counts.map((row, c) => (rowTotals[c] === 0 ? null : (rowTotals[c] - row[c]) / rowTotals[c])),
    transition_counts: counts,
    transition_matrix: counts.map((row, c) => (rowTotals[c] === 0 ? null : row.map((v) => v / rowTotals[c]))),
  };
}

export type NoiseSpec =
  | { model: 'symmetric'; rate: number; includeTrueClass: boolean }
  | { model: 'asymmetric'; rate: number; map: NoiseMapSpec }
  | { model: 'asymmetric'; transition: readonly (readonly number[])[] }
  | { model: 'instance'; rate: number; features?: Tensor; std?: number }
  | { model: 'confusion'; rate: number; zeroshotProbs?: Tensor };

function checkLabels(labels: Int32Array, K: number): void {
  if (K < 2) throw new NoiseParamError(`classes: label noise needs at least 2 classes, got ${K}`);
  for (let i = 0; i < labels.length; i++) {
    if (!(labels[i] >= 0 && labels[i] < K)) throw new NoiseParamError(`labels[${i}] = ${labels[i]} is not a class index below ${K}`);
  }
}

function checkMatrixInput(t: Tensor | undefined, name: string, model: string, rows: number, cols?: number): Float32Array {
  if (!t) throw new NoiseParamError(`model "${model}" needs the ${name} input`);
  if (t.dtype !== 'float32' || t.shape.length !== 2 || t.shape[0] !== rows || (cols !== undefined && t.shape[1] !== cols)) {
    throw new NoiseParamError(
      `${name} must be float32 [${rows}, ${cols ?? 'D'}], got ${t.dtype} [${t.shape.join(', ')}]`,
    );
  }
  return t.data as Float32Array;
}

/** Applies the requested noise model to `labels` (class indices into `classes`). */
export function injectNoise(labels: Int32Array, classes: readonly string[], spec: NoiseSpec, seed: number): NoiseResult {
  const K = classes.length;
  checkLabels(labels, K);
  const N = labels.length;
  const rng = createRng(seed, `noise/${spec.model}`);
  let result: NoisyLabels;
  let requested: number | null;
  let expected: number;
  switch (spec.model) {
    case 'symmetric': {
      result = symmetricNoise(labels, K, spec.rate, spec.includeTrueClass, rng);
      requested = spec.rate;
      const chosen = Math.round(spec.rate * N) / Math.max(N, 1);
      expected = spec.includeTrueClass ? (chosen * (K - 1)) / K : chosen;
      break;
    }
    case 'asymmetric': {
      if ('transition' in spec) {
        const T = checkTransitionMatrix(spec.transition, K);
        result = transitionNoise(labels, K, T, rng);
        requested = null;
        let stay = 0;
        for (const y of labels) stay += T[y * K + y];
        expected = N === 0 ? 0 : 1 - stay / N;
      } else {
        const target = resolveClassMap(spec.map, classes);
        result = asymmetricNoise(labels, K, spec.rate, target, rng);
        requested = spec.rate;
        const sizes = new Array<number>(K).fill(0);
        for (const y of labels) sizes[y]++;
        let moved = 0;
        sizes.forEach((n, c) => (moved += target[c] >= 0 ? Math.round(spec.rate * n) : 0));
        expected = N === 0 ? 0 : moved / N;
      }
      break;
    }
    case 'instance': {
      const features = checkMatrixInput(spec.features, 'features', 'instance', N);
      const D = spec.features!.shape[1];
      const inst = instanceNoise(labels, K, spec.rate, features, D, rng, spec.std ?? 0.1);
      result = inst;
      requested = spec.rate;
      expected = N === 0 ? 0 : inst.flipRates.reduce((a, b) => a + b, 0) / N;
      break;
    }
    case 'confusion': {
      const probs = checkMatrixInput(spec.zeroshotProbs, 'zeroshot_probs', 'confusion', N, K);
      result = confusionNoise(labels, K, spec.rate, probs, rng);
      requested = spec.rate;
      expected = N === 0 ? 0 : Math.round(spec.rate * N) / N;
      break;
    }
    default:
      throw new NoiseParamError(`model must be symmetric, asymmetric, instance or confusion, got ${(spec as { model: string }).model}`);
  }
  return {
    noisyLabels: result.noisyLabels,
    flipMask: result.flipMask,
    report: noiseReport(spec.model, labels, result.noisyLabels, K, requested, expected),
  };
}

// Baseline sample-selection rules to compare CLIPCleaner with. Each returns a keep-mask (1 = judged
// clean) and the score it thresholded.
//   agreement            argmax_k p(k|i) = ỹ_i (zero-shot or logistic-regression probabilities)
//   small loss           2-component GMM on the cross-entropy −log p(ỹ_i|i); keep the low-loss side
//   kNN                  fraction of the k nearest neighbours (cosine) that share ỹ_i ≥ threshold
//   confident learning   cleanlab's find_label_issues(filter_by='prune_by_noise_rate')
//   feature distance     robust similarity's g_i: minus the mean cosine distance to class-mates
import { fitGmm1d, perClassGmm, type Gmm1dOptions } from './gmm.js';
import {
  MethodInputError, RowDotEngine, argmaxRow, checkFraction, checkLabels, checkProbs, classCounts, indicesByClass,
  l2NormalizeRows, matrixShape, orderByScoreDescending, type FloatTensor,
} from './linalg.js';
import { LOG_FLOOR } from './clipcleaner.js';

/** Keeps samples whose most probable class (first on ties) is their given label. */
export function agreementMask(probs: Float32Array, labels: Int32Array, numClasses: number): Uint8Array {
  checkLabels(labels, numClasses, 'labels');
  checkProbs(probs, labels.length, numClasses, 'probabilities');
  const mask = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) mask[i] = argmaxRow(probs, i, numClasses) === labels[i] ? 1 : 0;
  return mask;
}

export interface SmallLossOptions {
  /** Keep samples whose posterior of the low-loss component ≥ threshold. Default 0.5. */
  threshold?: number;
  /** Fit one GMM per given class instead of one over all samples (DivideMix fits one). Default false. */
  perClass?: boolean;
  gmm?: Gmm1dOptions;
}

export interface SmallLossResult {
  mask: Uint8Array;
  /** −log p(ỹ_i | i). */
  loss: Float64Array;
  /** Posterior of the low-mean (clean) component. */
  cleanPosterior: Float64Array;
}

/** DivideMix-style small-loss selection: losses min-max normalised, GMM, keep the low-loss component. */
export function smallLossSelect(
  probs: Float32Array, labels: Int32Array, numClasses: number, opts: SmallLossOptions = {},
): SmallLossResult {
  checkLabels(labels, numClasses, 'labels');
  checkProbs(probs, labels.length, numClasses, 'probabilities');
  const threshold = opts.threshold ?? 0.5;
  checkFraction(threshold, 'small-loss threshold');
  const n = labels.length;
  const loss = new Float64Array(n);
  for (let i = 0; i < n; i++) loss[i] = -Math.log(Math.max(probs[i * numClasses + labels[i]], LOG_FLOOR));
  const cleanPosterior = new Float64Array(n);
  if (opts.perClass) {
    // Per class on −loss: the higher-mean component of −loss is the low-loss one.
    const neg = loss.map((v) => -v);
    const fit = perClassGmm(neg, labels, numClasses, opts.gmm);
    cleanPosterior.set(fit.posteriorHigh);
  } else {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < n; i++) {
      lo = Math.min(lo, loss[i]);
      hi = Math.max(hi, loss[i]);
    }
    const normalized = loss.map((v) => (hi > lo ? (v - lo) / (hi - lo) : 0));
    const fit = fitGmm1d(normalized, opts.gmm);
    for (let i = 0; i < n; i++) cleanPosterior[i] = fit.degenerate ? 1 : 1 - fit.posteriorHigh[i];
  }
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = cleanPosterior[i] >= threshold ? 1 : 0;
  return { mask, loss, cleanPosterior };
}

export interface KnnOptions {
  /** Neighbours per sample (self excluded). Default 10. */
  k?: number;
  /** Keep when the fraction of neighbours sharing the given label ≥ threshold. Default 0.5. */
  threshold?: number;
  /** Called with (pairs done, total pairs) as row blocks finish. */
  onProgress?: (done: number, total: number) => void;
}

export interface KnnResult {
  mask: Uint8Array;
  /** Fraction of the k neighbours with the same given label. */
  agreement: Float32Array;
  /** [N, k] neighbour indices, most similar first (ties: lower index first). */
  neighbours: Int32Array;
}

const KNN_ROWS = 64;
const KNN_COLS = 1024;

/**
 * Cosine k-nearest-neighbour label agreement; exact. Each pair's similarity is computed once (tiles
 * on and above the diagonal, float32 SIMD dot products) and offered to both samples' top-k lists.
 * Neighbours are ordered by similarity, then by index, so equal similarities resolve deterministically.
 */
export function knnAgreement(features: FloatTensor, labels: Int32Array, numClasses: number, opts: KnnOptions = {}): KnnResult {
  const [n, d] = matrixShape(features, 'features');
  if (labels.length !== n) throw new MethodInputError(`labels has length ${labels.length}, features has ${n} rows`);
  checkLabels(labels, numClasses, 'labels');
  const k = opts.k ?? 10;
  const threshold = opts.threshold ?? 0.5;
  if (!Number.isInteger(k) || k < 1) throw new MethodInputError(`knn k must be a positive integer, got ${k}`);
  if (k > n - 1) throw new MethodInputError(`knn k = ${k} needs at least ${k + 1} samples, got ${n}`);
  checkFraction(threshold, 'knn threshold');
  const x = unitRows(features.data, n, d);
  const engine = new RowDotEngine(x, n, null, n, d, KNN_ROWS, KNN_COLS);
  const topSim = new Float64Array(n * k).fill(-Infinity);
  const topIdx = new Int32Array(n * k).fill(n); // n sorts after every real index
  const sims = new Float32Array(KNN_ROWS * KNN_COLS);
  /** Offers neighbour j with similarity s to sample i's sorted top-k list. */
  const offer = (i: number, j: number, s: number): void => {
    const base = i * k;
    const last = base + k - 1;
    if (s < topSim[last] || (s === topSim[last] && j > topIdx[last])) return;
    let pos = last;
    while (pos > base && (topSim[pos - 1] < s || (topSim[pos - 1] === s && topIdx[pos - 1] > j))) {
      topSim[pos] = topSim[pos - 1];
      topIdx[pos] = topIdx[pos - 1];
      pos--;
    }
    topSim[pos] = s;
    topIdx[pos] = j;
  };
  const totalPairs = (n * (n + 1)) / 2;
  let donePairs = 0;
  for (let rowStart = 0; rowStart < n; rowStart += KNN_ROWS) {
    const m = Math.min(KNN_ROWS, n - rowStart);
    for (let colStart = rowStart; colStart < n; colStart += KNN_COLS) {
      const cols = Math.min(KNN_COLS, n - colStart);
      engine.tile(rowStart, m, colStart, cols, sims);
      for (let r = 0; r < m; r++) {
        const i = rowStart + r;
        // Only pairs j > i: each unordered pair once.
        for (let c = Math.max(0, i + 1 - colStart); c < cols; c++) {
          const s = sims[r * cols + c];
          const j = colStart + c;
          offer(i, j, s);
          offer(j, i, s);
        }
      }
      donePairs += m * cols;
    }
    opts.onProgress?.(Math.min(totalPairs, donePairs), totalPairs);
  }
  const neighbours = topIdx;
  const agreement = new Float32Array(n);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let same = 0;
    for (let j = 0; j < k; j++) if (labels[neighbours[i * k + j]] === labels[i]) same++;
    agreement[i] = same / k;
    mask[i] = same / k >= threshold ? 1 : 0;
  }
  return { mask, agreement, neighbours };
}

/** The rows as unit vectors; no copy when they already are (the usual case for CLIP features). */
function unitRows(data: Float32Array, n: number, d: number): Float32Array {
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let q = 0; q < d; q++) s += data[i * d + q] * data[i * d + q];
    if (Math.abs(s - 1) > 1e-4) return l2NormalizeRows(data, n, d);
  }
  return data;
}

// ---------------------------------------------------------------- confident learning

export interface ConfidentLearningOptions {
  /** Classes with at most this many given labels are never pruned (cleanlab's default 1). */
  minExamplesPerClass?: number;
}

export interface ConfidentLearningResult {
  /** Keep-mask: 1 = not flagged as a label issue. */
  mask: Uint8Array;
  /** t_j = mean p_j over samples given j (+∞ for a class nobody is given). */
  thresholds: Float64Array;
  /** Calibrated confident joint [K given, K true], integer counts. */
  confidentJoint: Int32Array;
  /** Samples to prune per (true j, given k) cell, [K, K] (cleanlab's prune_count_matrix). */
  pruneCounts: Int32Array;
  /** p(argmax non-given) − p(given): how strongly another class is preferred. */
  margin: Float64Array;
}

/**
 * cleanlab's find_label_issues(filter_by='prune_by_noise_rate') on out-of-sample probabilities:
 * per-class thresholds, confident joint (calibrated to the label counts), at least
 * `minExamplesPerClass` kept per class, then in every off-diagonal cell (true j, given k) the samples
 * given k with the largest margin p_j − p_k are flagged, as many as the cell estimates. Samples whose
 * argmax equals their given label are never flagged.
 */
export function confidentLearning(
  probs: Float32Array, labels: Int32Array, numClasses: number, opts: ConfidentLearningOptions = {},
): ConfidentLearningResult {
  const K = numClasses;
  const n = labels.length;
  checkLabels(labels, K, 'labels');
  checkProbs(probs, n, K, 'probabilities');
  const minExamples = opts.minExamplesPerClass ?? 1;
  const counts = classCounts(labels, K);

  const thresholds = new Float64Array(K);
  for (let i = 0; i < n; i++) thresholds[labels[i]] += probs[i * K + labels[i]];
  for (let c = 0; c < K; c++) thresholds[c] = counts[c] > 0 ? thresholds[c] / counts[c] : Infinity;

  // Confident joint: rows given label, columns guessed true label.
  const joint = new Float64Array(K * K);
  for (let i = 0; i < n; i++) {
    let confident = 0;
    let firstConfident = -1;
    for (let c = 0; c < K; c++) {
      if (probs[i * K + c] >= thresholds[c] - 1e-6) {
        confident++;
        if (firstConfident < 0) firstConfident = c;
      }
    }
    if (confident === 0) continue;
    const guess = confident > 1 ? argmaxRow(probs, i, K) : firstConfident;
    joint[labels[i] * K + guess]++;
  }
  for (let c = 0; c < K; c++) joint[c * K + c] = Math.max(joint[c * K + c], 1);
  const confidentJoint = calibrateJoint(joint, counts, n);

  const pruneCounts = keepAtLeastPerClass(confidentJoint, K, minExamples);
  const flagged = new Uint8Array(n);
  const members = indicesByClass(labels, K);
  for (let given = 0; given < K; given++) {
    if (counts[given] <= minExamples) continue;
    const idx = members[given];
    for (let truth = 0; truth < K; truth++) {
      const num = Math.min(pruneCounts[truth * K + given], idx.length);
      if (truth === given || num <= 0) continue;
      const margins = Array.from(idx, (i) => probs[i * K + truth] - probs[i * K + given]);
      const cut = [...margins].sort((a, b) => b - a)[num - 1];
      for (let r = 0; r < idx.length; r++) if (margins[r] >= cut) flagged[idx[r]] = 1;
    }
  }
  const mask = new Uint8Array(n);
  const margin = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (argmaxRow(probs, i, K) === y) flagged[i] = 0;
    mask[i] = flagged[i] ? 0 : 1;
    let other = -Infinity;
    for (let c = 0; c < K; c++) if (c !== y) other = Math.max(other, probs[i * K + c]);
    margin[i] = (K > 1 ? other : 0) - probs[i * K + y];
  }
  return { mask, thresholds, confidentJoint, pruneCounts, margin };
}

/** Rows scaled to the given-label counts, the whole to N, then rounded keeping row totals. */
function calibrateJoint(joint: Float64Array, counts: number[], n: number): Int32Array {
  const K = counts.length;
  const cal = new Float64Array(K * K);
  let total = 0;
  for (let r = 0; r < K; r++) {
    let rowSum = 0;
    for (let c = 0; c < K; c++) rowSum += joint[r * K + c];
    for (let c = 0; c < K; c++) {
      cal[r * K + c] = (joint[r * K + c] / Math.max(rowSum, 1e-16)) * counts[r];
      total += cal[r * K + c];
    }
  }
  for (let j = 0; j < K * K; j++) cal[j] = total > 0 ? (cal[j] / total) * n : 0;
  return roundRowsPreservingTotals(cal, K);
}

/**
 * cleanlab's _keep_at_least_n_per_class on the transposed joint (rows true label, columns given):
 * raise each diagonal to at least n, taking the difference evenly from that column's non-zero noise
 * counts; frac_noise = 1 leaves the (truncated) counts as they are.
 */
function keepAtLeastPerClass(confidentJoint: Int32Array, K: number, minPerClass: number): Int32Array {
  const m = new Float64Array(K * K);
  for (let r = 0; r < K; r++) for (let c = 0; c < K; c++) m[r * K + c] = confidentJoint[c * K + r];
  for (let col = 0; col < K; col++) {
    const diag = m[col * K + col];
    const newDiag = Math.max(diag, minPerClass);
    let nonZero = 0;
    for (let r = 0; r < K; r++) if (m[r * K + col] !== 0) nonZero++;
    const share = (newDiag - diag) / Math.max(nonZero - 1, 1);
    for (let r = 0; r < K; r++) m[r * K + col] = Math.max(m[r * K + col] - share, 0);
    m[col * K + col] = newDiag;
  }
  const out = new Int32Array(K * K);
  for (let j = 0; j < K * K; j++) out[j] = Math.trunc(m[j]);
  return out;
}

/** Rounds half to even, as numpy does. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Rounds each row to integers whose sum is the rounded row sum (cleanlab's round_preserving_sum).
 * Missing units go to the entries rounded down the most; surplus units come off the entries rounded
 * up the most (cleanlab takes both from the former, which can only move a count further from its value).
 */
export function roundRowsPreservingTotals(values: Float64Array, K: number): Int32Array {
  const out = new Int32Array(K * K);
  for (let r = 0; r < K; r++) {
    const row = values.subarray(r * K, (r + 1) * K);
    const ints = Array.from(row, roundHalfEven);
    const target = roundHalfEven(row.reduce((a, b) => a + b, 0));
    let diff = target - ints.reduce((a, b) => a + b, 0);
    const residual = (c: number): number => row[c] - ints[c];
    while (diff !== 0) {
      const up = diff > 0;
      const order = orderByScoreDescending((c) => (up ? residual(c) : -residual(c)), K);
      const changes = Math.min(Math.abs(diff), K);
      for (let t = 0; t < changes; t++) ints[order[t]] += up ? 1 : -1;
      diff += up ? -changes : changes;
    }
    for (let c = 0; c < K; c++) out[r * K + c] = ints[c];
  }
  return out;
}

// ---------------------------------------------------------------- feature distance

export interface FeatureDistanceResult {
  /** Mean cosine distance of a sample to the other samples of its given class (0 when alone). */
  distance: Float64Array;
  /** g_i = −distance, min-max normalised within each given class (1 = closest to the class). */
  score: Float64Array;
}

/**
 * Robust similarity's feature term. With unit rows the mean distance to class-mates is linear in the
 * class sum S_c: mean_{j≠i} (1 − f_i·f_j) = 1 − (f_i·S_c − f_i·f_i) / (n_c − 1), so no N×N matrix.
 */
export function featureDistanceScores(features: FloatTensor, labels: Int32Array, numClasses: number): FeatureDistanceResult {
  const [n, d] = matrixShape(features, 'features');
  if (labels.length !== n) throw new MethodInputError(`labels has length ${labels.length}, features has ${n} rows`);
  checkLabels(labels, numClasses, 'labels');
  const x = l2NormalizeRows(features.data, n, d);
  const sums = new Float64Array(numClasses * d);
  for (let i = 0; i < n; i++) {
    const off = i * d;
    const so = labels[i] * d;
    for (let q = 0; q < d; q++) sums[so + q] += x[off + q];
  }
  const counts = classCounts(labels, numClasses);
  const distance = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const nc = counts[labels[i]];
    if (nc < 2) continue;
    const off = i * d;
    const so = labels[i] * d;
    let dotSum = 0;
    let self = 0;
    for (let q = 0; q < d; q++) {
      dotSum += x[off + q] * sums[so + q];
      self += x[off + q] * x[off + q];
    }
    distance[i] = 1 - (dotSum - self) / (nc - 1);
  }
  const score = new Float64Array(n);
  for (const idx of indicesByClass(labels, numClasses)) {
    let lo = Infinity, hi = -Infinity;
    for (const i of idx) {
      lo = Math.min(lo, -distance[i]);
      hi = Math.max(hi, -distance[i]);
    }
    for (const i of idx) score[i] = hi > lo ? (-distance[i] - lo) / (hi - lo) : 0;
  }
  return { distance, score };
}

export type FeatureDistanceSelection =
  | { mode: 'gmm'; threshold?: number; gmm?: Gmm1dOptions }
  | { mode: 'top-fraction'; fraction: number };

export interface FeatureDistanceSelectResult extends FeatureDistanceResult {
  mask: Uint8Array;
  /** GMM posterior of the close-to-class component (top-fraction: 1 for kept, 0 otherwise). */
  posterior: Float64Array;
}

/** Keeps, per class, the samples close to their class: by a per-class GMM on g or the top fraction. */
export function featureDistanceSelect(
  features: FloatTensor, labels: Int32Array, numClasses: number, selection: FeatureDistanceSelection,
): FeatureDistanceSelectResult {
  const scores = featureDistanceScores(features, labels, numClasses);
  const n = labels.length;
  const mask = new Uint8Array(n);
  let posterior: Float64Array;
  if (selection.mode === 'gmm') {
    const threshold = selection.threshold ?? 0.5;
    checkFraction(threshold, 'feature-distance threshold');
    posterior = perClassGmm(scores.score, labels, numClasses, selection.gmm).posteriorHigh;
    for (let i = 0; i < n; i++) mask[i] = posterior[i] >= threshold ? 1 : 0;
  } else if (selection.mode === 'top-fraction') {
    checkFraction(selection.fraction, 'feature-distance fraction');
    posterior = new Float64Array(n);
    for (const idx of indicesByClass(labels, numClasses)) {
      const order = orderByScoreDescending((r) => scores.score[idx[r]], idx.length);
      const keep = Math.ceil(selection.fraction * idx.length);
      for (let r = 0; r < keep; r++) {
        mask[idx[order[r]]] = 1;
        posterior[idx[order[r]]] = 1;
      }
    }
  } else {
    throw new MethodInputError(`feature-distance selection mode must be 'gmm' or 'top-fraction'`);
  }
  return { ...scores, mask, posterior };
}

// Evaluation measures. Undefined ratios (no samples, nothing selected) are NaN here; callers that
// write JSON turn NaN into null.
import { MethodInputError, argmaxRow, checkLabels, checkMask, checkProbs } from './linalg.js';

function checkSameLength(a: ArrayLike<unknown>, b: ArrayLike<unknown>, what: string): void {
  if (a.length !== b.length) throw new MethodInputError(`${what}: lengths differ (${a.length} vs ${b.length})`);
}

/** Fraction of predictions equal to the labels. */
export function accuracy(predicted: Int32Array, truth: Int32Array): number {
  checkSameLength(predicted, truth, 'accuracy');
  let hit = 0;
  for (let i = 0; i < truth.length; i++) if (predicted[i] === truth[i]) hit++;
  return truth.length > 0 ? hit / truth.length : Number.NaN;
}

/** confusion[t * K + p] = number of samples of true class t predicted as p. */
export function confusionMatrix(predicted: Int32Array, truth: Int32Array, numClasses: number): Int32Array {
  checkSameLength(predicted, truth, 'confusion matrix');
  checkLabels(truth, numClasses, 'true labels');
  checkLabels(predicted, numClasses, 'predicted labels');
  const m = new Int32Array(numClasses * numClasses);
  for (let i = 0; i < truth.length; i++) m[truth[i] * numClasses + predicted[i]]++;
  return m;
}

/** Per true class: fraction predicted correctly (recall of the class); NaN for a class with no samples. */
export function perClassAccuracy(predicted: Int32Array, truth: Int32Array, numClasses: number): number[] {
  const m = confusionMatrix(predicted, truth, numClasses);
  const out: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    let row = 0;
    for (let p = 0; p < numClasses; p++) row += m[c * numClasses + p];
    out.push(row > 0 ? m[c * numClasses + c] / row : Number.NaN);
  }
  return out;
}

/**
 * Expected calibration error with `bins` equal-width confidence bins over (0, 1] (a bin holds
 * lo < conf ≤ hi): Σ_b |B_b|/N · |accuracy(B_b) − mean confidence(B_b)|. Confidence = max prob;
 * the prediction is its argmax (first on ties).
 */
/** Mean over samples of the arg-max probability (how confident the predictions are on average). */
export function meanConfidence(probs: Float32Array, numClasses: number): number {
  if (!Number.isInteger(numClasses) || numClasses < 1 || probs.length % numClasses !== 0) {
    throw new MethodInputError(`probabilities have ${probs.length} values, not a multiple of K = ${numClasses}`);
  }
  const n = probs.length / numClasses;
  if (n === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += probs[i * numClasses + argmaxRow(probs, i, numClasses)];
  return sum / n;
}

export function expectedCalibrationError(probs: Float32Array, truth: Int32Array, numClasses: number, bins = 15): number {
  checkLabels(truth, numClasses, 'true labels');
  checkProbs(probs, truth.length, numClasses, 'probabilities');
  if (!Number.isInteger(bins) || bins < 1) throw new MethodInputError(`ECE bins must be a positive integer, got ${bins}`);
  const n = truth.length;
  if (n === 0) return Number.NaN;
  const count = new Float64Array(bins);
  const confSum = new Float64Array(bins);
  const hitSum = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const pred = argmaxRow(probs, i, numClasses);
    const conf = probs[i * numClasses + pred];
    // Bin b covers (b/bins, (b+1)/bins]; confidence 0 (impossible for a distribution) goes to bin 0.
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(conf * bins) - 1));
    count[b]++;
    confSum[b] += conf;
    if (pred === truth[i]) hitSum[b]++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue;
    ece += (count[b] / n) * Math.abs(hitSum[b] / count[b] - confSum[b] / count[b]);
  }
  return ece;
}

export interface SelectionQuality {
  /** Selected and clean (noisy label = true label). */
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  trueNegatives: number;
  precision: number;
  recall: number;
  f1: number;
  /** Fraction of the selected samples whose noisy label is wrong. */
  noiseInSelection: number;
  /** Fraction of all samples whose noisy label is wrong. */
  noiseRate: number;
}

/** Quality of "clean" detection: positive = selected, truth = the noisy label equals the true label. */
export function selectionQuality(mask: Uint8Array, noisyLabels: Int32Array, trueLabels: Int32Array): SelectionQuality {
  checkSameLength(noisyLabels, trueLabels, 'selection quality (noisy vs true labels)');
  checkMask(mask, noisyLabels.length, 'selection mask');
  let tp = 0, fp = 0, fn = 0, tn = 0;
  for (let i = 0; i < mask.length; i++) {
    const clean = noisyLabels[i] === trueLabels[i];
    if (mask[i]) {
      if (clean) tp++; else fp++;
    } else if (clean) fn++;
    else tn++;
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : Number.NaN;
  const recall = tp + fn > 0 ? tp / (tp + fn) : Number.NaN;
  const f1 = tp > 0 ? (2 * precision * recall) / (precision + recall) : (tp + fp + fn > 0 ? 0 : Number.NaN);
  const n = mask.length;
  return {
    truePositives: tp, falsePositives: fp, falseNegatives: fn, trueNegatives: tn, precision, recall, f1,
    noiseInSelection: tp + fp > 0 ? fp / (tp + fp) : Number.NaN,
    noiseRate: n > 0 ? (fp + tn) / n : Number.NaN,
  };
}

export interface RelabelQuality {
  relabelled: number;
  /** Relabelled samples whose new label is the true label. */
  correct: number;
  /** correct / relabelled. */
  accuracy: number;
  /** Relabelled samples whose noisy label had been right (the relabel broke them). */
  wasClean: number;
}

/** Of the relabelled samples, how many got their true label. */
export function relabelQuality(
  newLabels: Int32Array, relabelledMask: Uint8Array, trueLabels: Int32Array, noisyLabels?: Int32Array,
): RelabelQuality {
  checkSameLength(newLabels, trueLabels, 'relabel quality (new vs true labels)');
  checkMask(relabelledMask, newLabels.length, 'relabel mask');
  if (noisyLabels) checkSameLength(noisyLabels, trueLabels, 'relabel quality (noisy vs true labels)');
  let relabelled = 0, correct = 0, wasClean = 0;
  for (let i = 0; i < newLabels.length; i++) {
    if (!relabelledMask[i]) continue;
    relabelled++;
    if (newLabels[i] === trueLabels[i]) correct++;
    if (noisyLabels && noisyLabels[i] === trueLabels[i]) wasClean++;
  }
  return { relabelled, correct, accuracy: relabelled > 0 ? correct / relabelled : Number.NaN, wasClean };
}

/** Samples per class, optionally only those with mask = 1. */
export function perClassCounts(labels: Int32Array, numClasses: number, mask?: Uint8Array): number[] {
  checkLabels(labels, numClasses, 'labels');
  if (mask) checkMask(mask, labels.length, 'mask');
  const out = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) if (!mask || mask[i]) out[labels[i]]++;
  return out;
}

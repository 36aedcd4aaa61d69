// MixFix (CLIPCleaner's relabelling step, methods.md). From a model's predictions q_i with
// c_i = max_k q_ik and ŷ_i = argmax_k q_ik (first on ties):
//   absorb:  a sample outside the initial selection with ŷ_i = ỹ_i and c_i ≥ θ_absorb joins with its label;
//   relabel: any sample (selected ones too) with ŷ_i ≠ ỹ_i and c_i ≥ θ_relabel gets ŷ_i and joins.
// Train set = initial selection ∪ absorbed ∪ relabelled. Always computed from the original noisy
// labels and the initial selection, never from a previous round's output.
import { MethodInputError, argmaxRow, checkLabels, checkMask, checkProbs } from './linalg.js';

export interface MixFixResult {
  labels: Int32Array;
  trainMask: Uint8Array;
  absorbed: Uint8Array;
  relabelled: Uint8Array;
  counts: { selected: number; absorbed: number; relabelled: number; total: number };
}

export function mixfix(
  probs: Float32Array,
  numClasses: number,
  noisyLabels: Int32Array,
  initialSelection: Uint8Array,
  thresholds: { absorb: number; relabel: number },
): MixFixResult {
  const n = noisyLabels.length;
  checkLabels(noisyLabels, numClasses, 'noisy labels');
  checkProbs(probs, n, numClasses, 'probabilities');
  checkMask(initialSelection, n, 'initial selection');
  for (const [name, value] of Object.entries(thresholds)) {
    if (!Number.isFinite(value)) throw new MethodInputError(`mixfix threshold ${name} must be a finite number, got ${value}`);
  }
  const labels = Int32Array.from(noisyLabels);
  const trainMask = new Uint8Array(n);
  const absorbed = new Uint8Array(n);
  const relabelled = new Uint8Array(n);
  let selected = 0, nAbsorbed = 0, nRelabelled = 0, total = 0;
  for (let i = 0; i < n; i++) {
    const pred = argmaxRow(probs, i, numClasses);
    const conf = probs[i * numClasses + pred];
    const isSelected = initialSelection[i] !== 0;
    if (isSelected) selected++;
    if (pred !== noisyLabels[i]) {
      if (conf >= thresholds.relabel) {
        labels[i] = pred;
        relabelled[i] = 1;
        nRelabelled++;
      }
    } else if (!isSelected && conf >= thresholds.absorb) {
      absorbed[i] = 1;
      nAbsorbed++;
    }
    if (isSelected || absorbed[i] || relabelled[i]) {
      trainMask[i] = 1;
      total++;
    }
  }
  return { labels, trainMask, absorbed, relabelled, counts: { selected, absorbed: nAbsorbed, relabelled: nRelabelled, total } };
}

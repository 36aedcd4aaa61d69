// Robust UPL's two steps outside prompt tuning: pseudo-labels from (zero-shot) probabilities with K
// random samples per pseudo-class (shots.ts), and the ensemble of several heads' probabilities.
import { MethodInputError, argmaxRows } from '../linalg.js';

/** Arg-max labels [N] of probabilities [N, K] (first on ties). */
export function pseudoLabels(probs: Float32Array, n: number, numClasses: number): Int32Array {
  if (probs.length !== n * numClasses) throw new MethodInputError(`probabilities have ${probs.length} values, expected ${n}·${numClasses}`);
  return argmaxRows(probs, numClasses);
}

/** The element-wise mean of equally shaped probability matrices (an ensemble of heads). */
export function averageProbs(members: readonly { name: string; data: Float32Array; shape: readonly number[] }[]): Float32Array {
  if (members.length === 0) throw new MethodInputError('nothing to ensemble');
  const [first] = members;
  for (const m of members) {
    if (m.shape.length !== 2 || m.shape[0] !== first.shape[0] || m.shape[1] !== first.shape[1]) {
      throw new MethodInputError(`input "${m.name}" has shape [${m.shape.join(', ')}], "${first.name}" has [${first.shape.join(', ')}]`);
    }
  }
  const out = new Float32Array(first.data.length);
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (const m of members) s += m.data[i];
    out[i] = s / members.length;
  }
  return out;
}

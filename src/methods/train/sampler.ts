// The order in which one epoch visits the training set.
import type { Rng } from '../../random/rng.js';

export type SamplerKind = 'balanced' | 'shuffle';

/**
 * Sample indices for one epoch over the training set `members` (indices into `labels`).
 * shuffle: a permutation of the set.
 * balanced: as many draws (with replacement) as the set has samples, each sample drawn with
 * probability ∝ 1/n_c of its class c (torch's WeightedRandomSampler with those weights). We draw a
 * class uniformly among the classes present, then a member of it uniformly: the same distribution,
 * exact in integer arithmetic.
 */
export function epochOrder(members: Int32Array, labels: Int32Array, numClasses: number, kind: SamplerKind, rng: Rng): Int32Array {
  if (kind === 'shuffle') {
    const perm = rng.permutation(members.length);
    const order = new Int32Array(members.length);
    for (let i = 0; i < perm.length; i++) order[i] = members[perm[i]];
    return order;
  }
  const counts = new Int32Array(numClasses);
  for (const i of members) counts[labels[i]]++;
  const starts = new Int32Array(numClasses + 1);
  for (let c = 0; c < numClasses; c++) starts[c + 1] = starts[c] + counts[c];
  const byClass = new Int32Array(members.length);
  const fill = starts.slice(0, numClasses);
  for (const i of members) byClass[fill[labels[i]]++] = i;
  const present: number[] = [];
  for (let c = 0; c < numClasses; c++) if (counts[c] > 0) present.push(c);
  const order = new Int32Array(members.length);
  for (let j = 0; j < order.length; j++) {
    const c = present[rng.int(present.length)];
    order[j] = byClass[starts[c] + rng.int(counts[c])];
  }
  return order;
}

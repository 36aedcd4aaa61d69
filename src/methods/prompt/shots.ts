// Few-shot subsets: `shots` samples per class, drawn at random (seeded) among the samples of the set
// `mask` by their label (given labels for PTNL's 16-shot setting, zero-shot pseudo-labels for
// Robust UPL — at random, not the most confident). A class with fewer samples keeps them all.
import type { Rng } from '../../random/rng.js';

export class ShotsError extends RangeError {
  override name = 'ShotsError';
}

export function sampleShots(labels: Int32Array, numClasses: number, shots: number, rng: Rng, mask?: Uint8Array): Uint8Array {
  if (!Number.isInteger(shots) || shots < 1) throw new ShotsError(`shots must be a positive integer, got ${shots}`);
  if (mask && mask.length !== labels.length) throw new ShotsError(`mask has length ${mask.length}, labels ${labels.length}`);
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) {
    if (mask && !mask[i]) continue;
    const y = labels[i];
    if (!(y >= 0 && y < numClasses)) throw new ShotsError(`labels[${i}] = ${y} is outside [0, ${numClasses})`);
    byClass[y].push(i);
  }
  const out = new Uint8Array(labels.length);
  byClass.forEach((members, c) => {
    // Each class draws from its own stream, so one class's size does not move another's draw.
    const perm = rng.fork(`class-${c}`).permutation(members.length);
    for (let r = 0; r < Math.min(shots, members.length); r++) out[members[perm[r]]] = 1;
  });
  return out;
}

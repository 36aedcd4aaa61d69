// Combining keep-masks from several selection rules.
import { MethodInputError } from './linalg.js';

export type CombineMode = 'intersection' | 'union' | 'vote';

/**
 * intersection: kept by every mask; union: kept by any; vote: kept by at least `minVotes` masks
 * (vote with minVotes = n is the intersection, with 1 the union).
 */
export function combineMasks(masks: readonly Uint8Array[], mode: CombineMode, minVotes?: number): Uint8Array {
  if (masks.length === 0) throw new MethodInputError('combineMasks needs at least one mask');
  const n = masks[0].length;
  masks.forEach((m, j) => {
    if (m.length !== n) throw new MethodInputError(`mask ${j} has length ${m.length}, mask 0 has ${n}`);
  });
  let need: number;
  if (mode === 'intersection') need = masks.length;
  else if (mode === 'union') need = 1;
  else if (mode === 'vote') {
    if (minVotes === undefined || !Number.isInteger(minVotes) || minVotes < 1 || minVotes > masks.length) {
      throw new MethodInputError(`vote needs min_votes, an integer in [1, ${masks.length}], got ${String(minVotes)}`);
    }
    need = minVotes;
  } else {
    throw new MethodInputError(`combine mode must be intersection, union or vote, got '${String(mode)}'`);
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let votes = 0;
    for (const m of masks) if (m[i]) votes++;
    out[i] = votes >= need ? 1 : 0;
  }
  return out;
}

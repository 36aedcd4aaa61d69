// Comparing two versions of an output, for the tools that check a recomputation against a record
// (`status`). Two machines' numeric backends (or two builds of one) may round differently, so
// equal hashes are not the only "same": floating-point tensors, and numbers inside JSON, are
// equal within tolerance when |a − b| ≤ atol + rtol·|b| everywhere (numpy's allclose). Integer,
// boolean, float16 (raw bits) and string data must be identical, and shapes and dtypes must agree.
import { decodeArtifact } from '../store/artifact.js';
import type { ObjectRef } from '../store/store.js';
import { isTensor, type Json, type Tensor } from '../tensor.js';
import type { PortValue } from '../types/node-type.js';

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** Float32 rounding accumulated over a training run or a long reduction. */
export const DEFAULT_TOLERANCE: Tolerance = { atol: 1e-5, rtol: 1e-4 };

export type Comparison =
  | { verdict: 'identical' }
  | { verdict: 'within-tolerance'; maxAbsDiff: number }
  | { verdict: 'different'; why: string; maxAbsDiff?: number };

// float16 tensors hold raw half bits: compared bit for bit, like integers.
const FLOAT_DTYPES = new Set(['float32', 'float64']);

export function compareTensors(a: Tensor, b: Tensor, tol: Tolerance = DEFAULT_TOLERANCE): Comparison {
  if (a.dtype !== b.dtype) return { verdict: 'different', why: `dtype ${a.dtype} vs ${b.dtype}` };
  if (a.shape.length !== b.shape.length || a.shape.some((s, i) => s !== b.shape[i])) {
    return { verdict: 'different', why: `shape [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]` };
  }
  const n = a.data.length;
  if (!FLOAT_DTYPES.has(a.dtype)) {
    let unequal = 0;
    for (let i = 0; i < n; i++) if (a.data[i] !== b.data[i]) unequal++;
    return unequal === 0 ? { verdict: 'identical' } : { verdict: 'different', why: `${unequal} of ${n} values differ` };
  }
  let maxAbs = 0;
  let outside = 0;
  for (let i = 0; i < n; i++) {
    const x = a.data[i] as number;
    const y = b.data[i] as number;
    if (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y))) continue;
    const d = Math.abs(x - y);
    if (!(d <= maxAbs)) maxAbs = d; // NaN against a number counts as the largest difference
    if (!(d <= tol.atol + tol.rtol * Math.abs(y))) outside++;
  }
  if (maxAbs === 0) return { verdict: 'identical' };
  return outside === 0
    ? { verdict: 'within-tolerance', maxAbsDiff: maxAbs }
    : { verdict: 'different', why: `${outside} of ${n} values outside tolerance`, maxAbsDiff: maxAbs };
}

/** JSON values: the same structure and strings, numbers within tolerance. */
export function compareJson(a: Json, b: Json, tol: Tolerance = DEFAULT_TOLERANCE): Comparison {
  let maxAbs = 0;
  let firstBad: string | undefined;
  const walk = (x: Json, y: Json, path: string): void => {
    if (firstBad !== undefined) return;
    if (typeof x === 'number' && typeof y === 'number') {
      const d = Math.abs(x - y);
      if (d > maxAbs) maxAbs = d;
      if (!(d <= tol.atol + tol.rtol * Math.abs(y))) firstBad = `${path || 'value'}: ${x} vs ${y}`;
      return;
    }
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) firstBad = `${path || 'value'}: length ${x.length} vs ${y.length}`;
      else x.forEach((v, i) => walk(v, y[i], `${path}[${i}]`));
      return;
    }
    if (x !== null && y !== null && typeof x === 'object' && typeof y === 'object' && !Array.isArray(x) && !Array.isArray(y)) {
      const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
      for (const k of keys) {
        const p = path ? `${path}.${k}` : k;
        if (!(k in x) || !(k in y)) {
          firstBad = `${p}: only on one side`;
          return;
        }
        walk(x[k], y[k], p);
      }
      return;
    }
    if (x !== y) firstBad = `${path || 'value'}: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`;
  };
  walk(a, b, '');
  if (firstBad !== undefined) return { verdict: 'different', why: firstBad };
  return maxAbs === 0 ? { verdict: 'identical' } : { verdict: 'within-tolerance', maxAbsDiff: maxAbs };
}

export function compareValues(a: PortValue, b: PortValue, tol: Tolerance = DEFAULT_TOLERANCE): Comparison {
  if (isTensor(a) && isTensor(b)) return compareTensors(a, b, tol);
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    const same = a instanceof Uint8Array && b instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b));
    return same ? { verdict: 'identical' } : { verdict: 'different', why: 'bytes differ' };
  }
  if (isTensor(a) || isTensor(b)) return { verdict: 'different', why: 'a tensor against JSON' };
  return compareJson(a, b, tol);
}

/** Two stored objects: identical when their hashes are equal, else decoded and compared. */
export async function compareObjects(
  read: (ref: ObjectRef) => Promise<Uint8Array>, a: ObjectRef, b: ObjectRef, tol: Tolerance = DEFAULT_TOLERANCE,
): Promise<Comparison> {
  if (a.hash === b.hash) return { verdict: 'identical' };
  if (a.kind !== b.kind) return { verdict: 'different', why: `${a.kind} vs ${b.kind}` };
  return compareValues(decodeArtifact(a, await read(a)), decodeArtifact(b, await read(b)), tol);
}

/** "identical", "equal within tolerance (max abs diff 2.4e-7)" or "different (why)". */
export function describeComparison(c: Comparison): string {
  switch (c.verdict) {
    case 'identical':
      return 'identical';
    case 'within-tolerance':
      return `equal within tolerance (max abs diff ${c.maxAbsDiff.toPrecision(2)})`;
    case 'different':
      return `different (${c.why}${c.maxAbsDiff !== undefined ? `, max abs diff ${c.maxAbsDiff.toPrecision(2)}` : ''})`;
  }
}

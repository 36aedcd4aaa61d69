// Seeded, class-stratified index selection: subsampling a split to a maximum size and carving a
// held-out test split from a train split. Both keep every class's share as close as integer
// counts allow, and return indices in ascending order so the original sample order survives.
import type { Rng } from '../random/rng.js';
import { numel, tensor, type DType, type Tensor, type TypedArrayOf } from '../runtime/tensor.js';

/** Indices of each class, in ascending order. */
function indicesByClass(labels: Int32Array): Map<number, number[]> {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    let list = byClass.get(labels[i]);
    if (!list) byClass.set(labels[i], (list = []));
    list.push(i);
  }
  return byClass;
}

/**
 * Splits `total` across classes in proportion to their sizes (largest-remainder method; ties go
 * to the smaller class index), never giving a class more than it has.
 */
export function proportionalQuotas(sizes: ReadonlyMap<number, number>, total: number): Map<number, number> {
  const n = [...sizes.values()].reduce((a, b) => a + b, 0);
  const classes = [...sizes.keys()].sort((a, b) => a - b);
  const quotas = new Map<number, number>();
  const remainders: { cls: number; frac: number }[] = [];
  let assigned = 0;
  for (const c of classes) {
    const exact = n === 0 ? 0 : (total * sizes.get(c)!) / n;
    const q = Math.floor(exact);
    quotas.set(c, q);
    assigned += q;
    remainders.push({ cls: c, frac: exact - q });
  }
  remainders.sort((a, b) => b.frac - a.frac || a.cls - b.cls);
  for (let i = 0; assigned < total && i < remainders.length; i++) {
    const c = remainders[i].cls;
    if (quotas.get(c)! < sizes.get(c)!) {
      quotas.set(c, quotas.get(c)! + 1);
      assigned++;
    }
  }
  return quotas;
}

/** Picks `take` of `items` at random (partial Fisher-Yates on a copy). */
function pick(items: readonly number[], take: number, rng: Rng): number[] {
  const pool = [...items];
  for (let i = 0; i < take; i++) {
    const j = i + rng.int(pool.length - i);
    const tmp = pool[i];
    pool[i] = pool[j];
    pool[j] = tmp;
  }
  return pool.slice(0, take);
}

function stratifiedPick(labels: Int32Array, count: number, rng: Rng): Int32Array {
  const byClass = indicesByClass(labels);
  const quotas = proportionalQuotas(new Map([...byClass].map(([c, l]) => [c, l.length])), count);
  const chosen: number[] = [];
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) chosen.push(...pick(byClass.get(c)!, quotas.get(c)!, rng));
  return Int32Array.from(chosen).sort();
}

/** At most `max` indices, stratified by class; all indices when the split is already small enough. */
export function stratifiedSubsample(labels: Int32Array, max: number, rng: Rng): Int32Array {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`subsample size must be a positive integer, got ${max}`);
  if (labels.length <= max) return Int32Array.from({ length: labels.length }, (_, i) => i);
  return stratifiedPick(labels, max, rng);
}

/** Splits indices into kept and held out; round(fraction · N) samples are held out, stratified. */
export function stratifiedHoldout(labels: Int32Array, fraction: number, rng: Rng): { keep: Int32Array; holdout: Int32Array } {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`holdout fraction must be in [0, 1), got ${fraction}`);
  const holdout = stratifiedPick(labels, Math.round(fraction * labels.length), rng);
  const held = new Uint8Array(labels.length);
  for (const i of holdout) held[i] = 1;
  const keep = new Int32Array(labels.length - holdout.length);
  for (let i = 0, k = 0; i < labels.length; i++) if (!held[i]) keep[k++] = i;
  return { keep, holdout };
}

/** Rows `indices` of a tensor along its first axis. */
export function takeRows<D extends DType>(t: Tensor<D>, indices: Int32Array): Tensor<D> {
  const rowSize = numel(t.shape.slice(1));
  const src = t.data as unknown as { subarray(a: number, b: number): ArrayLike<number> } & ArrayLike<number>;
  const out = new (t.data.constructor as new (n: number) => TypedArrayOf<D>)(indices.length * rowSize);
  const dst = out as unknown as { set(a: ArrayLike<number>, offset: number): void };
  for (let k = 0; k < indices.length; k++) {
    const r = indices[k];
    dst.set(src.subarray(r * rowSize, (r + 1) * rowSize), k * rowSize);
  }
  return tensor(t.dtype, [indices.length, ...t.shape.slice(1)], out);
}

export function takeLabels(labels: Int32Array, indices: Int32Array): Int32Array {
  const out = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) out[k] = labels[indices[k]];
  return out;
}

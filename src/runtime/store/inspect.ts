// Summaries of stored artifacts for `sieve show`.
import { isTensor, type Json, type Tensor } from '../tensor.js';
import { decodeArtifact } from './artifact.js';
import type { ObjectRef } from './store.js';

export interface ArtifactSummary {
  kind: ObjectRef['kind'];
  hash: string;
  size: number;
  dtype?: string;
  shape?: number[];
  stats?: { min: number; max: number; mean: number; std: number; nonFinite: number };
  /** For integer and bool tensors with few distinct values: value → count. */
  counts?: Record<string, number>;
  /** For JSON: the value, or its beginning. */
  preview?: string;
}

export function summarize(ref: ObjectRef, bytes: Uint8Array): ArtifactSummary {
  const base: ArtifactSummary = { kind: ref.kind, hash: ref.hash, size: ref.size };
  const value = decodeArtifact(ref, bytes);
  if (isTensor(value)) return { ...base, dtype: value.dtype, shape: [...value.shape], ...tensorStats(value) };
  if (value instanceof Uint8Array) return base;
  const text = JSON.stringify(value as Json, null, 1);
  return { ...base, preview: text.length > 2000 ? `${text.slice(0, 2000)}…` : text };
}

function tensorStats(t: Tensor): Pick<ArtifactSummary, 'stats' | 'counts'> {
  const data = t.data;
  if (data.length === 0 || t.dtype === 'float16') return {};
  let min = Infinity, max = -Infinity, sum = 0, sumSq = 0, nonFinite = 0, n = 0;
  const integral = !t.dtype.startsWith('float');
  const counts = new Map<number, number>();
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    sumSq += v * v;
    n++;
    if (integral && counts.size <= 20) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const mean = n > 0 ? sum / n : NaN;
  const stats = { min, max, mean, std: n > 0 ? Math.sqrt(Math.max(0, sumSq / n - mean * mean)) : NaN, nonFinite };
  if (!integral || counts.size > 20) return { stats };
  return { stats, counts: Object.fromEntries([...counts].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v])) };
}

// CLIP zero-shot class probabilities from image features [N, D] and prompt embeddings [K, P, D].
// Two conventions (methods.md):
//   'sum-exp'        CLIPCleaner: s_ik = Σ_p exp(<f_i, t_kp> / τ), p(k|i) = s_ik / Σ_k' s_ik', τ = 0.07;
//                    computed in log space (log s_ik = logsumexp_p) so τ = 0.01 cannot overflow.
//   'mean-embedding' CLIP's own: average the P prompt embeddings of a class, renormalise, then
//                    softmax of <f_i, t_k> / τ with τ = 0.01 (logit scale 100).
import { MethodInputError, RowDotEngine, matrixShape, type FloatTensor } from './linalg.js';

export type ZeroShotAggregation = 'sum-exp' | 'mean-embedding';

export interface ZeroShotOptions {
  aggregation?: ZeroShotAggregation;
  /** τ; default 0.07 for 'sum-exp' and 0.01 for 'mean-embedding'. */
  temperature?: number;
}

export const DEFAULT_TEMPERATURE: Record<ZeroShotAggregation, number> = { 'sum-exp': 0.07, 'mean-embedding': 0.01 };

const ROW_BLOCK = 64;

/** Returns p(k | i) as float32 [N, K], row-major. */
export function zeroShotProbs(features: FloatTensor, textFeatures: FloatTensor, opts: ZeroShotOptions = {}): Float32Array {
  const [n, d] = matrixShape(features, 'features');
  if (textFeatures.shape.length !== 3) {
    throw new MethodInputError(`text features must be 3-D [K, P, D], got shape [${textFeatures.shape.join(', ')}]`);
  }
  const [k, p, dt] = textFeatures.shape;
  if (dt !== d) throw new MethodInputError(`text features have dimension ${dt}, image features have ${d}`);
  if (k < 1 || p < 1) throw new MethodInputError(`text features need at least one class and one prompt, got [${k}, ${p}, ${dt}]`);
  if (textFeatures.data.length !== k * p * d) {
    throw new MethodInputError(`text features have ${textFeatures.data.length} values, shape [${k}, ${p}, ${d}] needs ${k * p * d}`);
  }
  const aggregation = opts.aggregation ?? 'sum-exp';
  if (aggregation !== 'sum-exp' && aggregation !== 'mean-embedding') {
    throw new MethodInputError(`aggregation must be 'sum-exp' or 'mean-embedding', got '${String(aggregation)}'`);
  }
  const tau = opts.temperature ?? DEFAULT_TEMPERATURE[aggregation];
  if (!(tau > 0)) throw new MethodInputError(`temperature must be > 0, got ${tau}`);

  const text = aggregation === 'mean-embedding' ? Float32Array.from(meanEmbeddings(textFeatures.data, k, p, d)) : textFeatures.data;
  const cols = aggregation === 'mean-embedding' ? k : k * p;
  const promptsPerClass = aggregation === 'mean-embedding' ? 1 : p;
  const out = new Float32Array(n * k);
  // Similarities in float32 SIMD (see RowDotEngine): N·K·P·D products dominate with prompt ensembles.
  const engine = new RowDotEngine(features.data, n, text, cols, d, ROW_BLOCK, cols);
  const sims = new Float32Array(ROW_BLOCK * cols);
  const classLogit = new Float64Array(k);
  for (let start = 0; start < n; start += ROW_BLOCK) {
    const m = Math.min(ROW_BLOCK, n - start);
    engine.tile(start, m, 0, cols, sims);
    for (let r = 0; r < m; r++) {
      const off = r * cols;
      // log s_ik = logsumexp_p(<f, t_kp> / τ); with one prompt it is just <f, t_k> / τ.
      for (let c = 0; c < k; c++) {
        let top = -Infinity;
        for (let q = 0; q < promptsPerClass; q++) top = Math.max(top, sims[off + c * promptsPerClass + q] / tau);
        let sum = 0;
        for (let q = 0; q < promptsPerClass; q++) sum += Math.exp(sims[off + c * promptsPerClass + q] / tau - top);
        classLogit[c] = top + Math.log(sum);
      }
      let top = -Infinity;
      for (let c = 0; c < k; c++) top = Math.max(top, classLogit[c]);
      let sum = 0;
      for (let c = 0; c < k; c++) sum += Math.exp(classLogit[c] - top);
      const o = (start + r) * k;
      for (let c = 0; c < k; c++) out[o + c] = Math.exp(classLogit[c] - top) / sum;
    }
  }
  return out;
}

/** Per class: the mean of its P prompt embeddings, renormalised to unit length ([K, D], float64). */
export function meanEmbeddings(text: Float32Array, k: number, p: number, d: number): Float64Array {
  const out = new Float64Array(k * d);
  for (let c = 0; c < k; c++) {
    for (let q = 0; q < p; q++) {
      const off = (c * p + q) * d;
      for (let j = 0; j < d; j++) out[c * d + j] += text[off + j];
    }
    let norm = 0;
    for (let j = 0; j < d; j++) norm += out[c * d + j] ** 2;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let j = 0; j < d; j++) out[c * d + j] *= inv;
  }
  return out;
}

// Offline embedders that need no model: raw pixels standardised per feature, optionally projected
// to fewer dimensions (a seeded Gaussian random projection, or PCA by subspace iteration), then
// L2-normalised; and a pass-through for precomputed features. The transform is fitted on training
// images and applied unchanged to test images.
import { createRng } from '../random/rng.js';

export type PixelProjection = 'none' | 'random' | 'pca';

export interface PixelEmbedderOptions {
  projection: PixelProjection;
  /** Output dimension for `random` and `pca`. */
  dim?: number;
  seed: number;
  /** L2-normalise each output row (default true). */
  normalize?: boolean;
  /** Subspace-iteration cap for PCA (default 500). */
  maxIterations?: number;
  /** PCA stops when every kept Ritz pair has ‖Cv − λv‖ ≤ tolerance · λ₁ (default 1e-6). */
  tolerance?: number;
}

/** A fitted transform: z = (x − mean) · scale, then y = P z (when projecting), then L2. */
export interface PixelTransform {
  inputDim: number;
  outputDim: number;
  mean: Float64Array;
  /** 1 / std per feature; 0 for constant features, which carry no information. */
  scale: Float64Array;
  /** [outputDim, inputDim] row-major; absent for `none`. */
  projection?: Float64Array;
  normalize: boolean;
  /** PCA only: the eigenvalues of the standardised covariance, largest first. */
  eigenvalues?: Float64Array;
  /** PCA only: subspace iterations used. */
  iterations?: number;
}

export class PixelEmbedderError extends Error {
  override name = 'PixelEmbedderError';
}

type Pixels = Uint8Array | Float32Array;

function checkShape(images: Pixels, n: number, featureDim: number, name: string): void {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(featureDim) || featureDim < 1) {
    throw new PixelEmbedderError(`${name}: need at least one sample and one feature, got n=${n}, features=${featureDim}`);
  }
  if (images.length !== n * featureDim) {
    throw new PixelEmbedderError(`${name} has ${images.length} values, expected ${n} x ${featureDim}`);
  }
}

/** Scales each row of [n, d] to unit L2 norm in place; zero rows stay zero. */
export function l2NormalizeRowsInPlace(data: Float32Array, n: number, d: number): Float32Array {
  for (let i = 0; i < n; i++) {
    const off = i * d;
    let s = 0;
    for (let q = 0; q < d; q++) s += data[off + q] * data[off + q];
    if (s > 0) {
      const inv = 1 / Math.sqrt(s);
      for (let q = 0; q < d; q++) data[off + q] *= inv;
    }
  }
  return data;
}

/** The `features` embedder: a float32 copy of [n, d] features, optionally L2-normalised. */
export function passThroughFeatures(features: Float32Array | Float64Array, n: number, d: number, normalize: boolean): Float32Array {
  if (features.length !== n * d) throw new PixelEmbedderError(`features have ${features.length} values, expected ${n} x ${d}`);
  const out = Float32Array.from(features);
  return normalize ? l2NormalizeRowsInPlace(out, n, d) : out;
}

/** Per-feature mean and inverse standard deviation (population std), in float64. */
function featureStatistics(images: Pixels, n: number, f: number): { mean: Float64Array; scale: Float64Array } {
  const mean = new Float64Array(f);
  const sq = new Float64Array(f);
  for (let i = 0; i < n; i++) {
    const off = i * f;
    for (let j = 0; j < f; j++) mean[j] += images[off + j];
  }
  for (let j = 0; j < f; j++) mean[j] /= n;
  // Second pass on centred values: no cancellation.
  for (let i = 0; i < n; i++) {
    const off = i * f;
    for (let j = 0; j < f; j++) {
      const c = images[off + j] - mean[j];
      sq[j] += c * c;
    }
  }
  const scale = new Float64Array(f);
  for (let j = 0; j < f; j++) {
    const std = Math.sqrt(sq[j] / n);
    scale[j] = std > 1e-12 * (1 + Math.abs(mean[j])) ? 1 / std : 0;
  }
  return { mean, scale };
}

/** Fits the transform on training images [n, featureDim] (flattened pixels). */
export function fitPixelTransform(images: Pixels, n: number, featureDim: number, options: PixelEmbedderOptions): PixelTransform {
  checkShape(images, n, featureDim, 'training images');
  const { mean, scale } = featureStatistics(images, n, featureDim);
  const normalize = options.normalize ?? true;
  if (options.projection === 'none') return { inputDim: featureDim, outputDim: featureDim, mean, scale, normalize };
  const dim = options.dim;
  if (dim === undefined || !Number.isInteger(dim) || dim < 1 || dim > featureDim) {
    throw new PixelEmbedderError(`dim must be an integer in [1, ${featureDim}] for projection "${options.projection}", got ${dim}`);
  }
  if (options.projection === 'random') {
    const rng = createRng(options.seed, 'pixels/random-projection');
    const projection = new Float64Array(dim * featureDim);
    const std = 1 / Math.sqrt(dim);
    for (let i = 0; i < projection.length; i++) projection[i] = rng.normal() * std;
    return { inputDim: featureDim, outputDim: dim, mean, scale, projection, normalize };
  }
  if (options.projection === 'pca') {
    const operator = featureDim <= 4096 ? explicitCovariance(images, n, featureDim, mean, scale) : implicitCovariance(images, n, featureDim, mean, scale);
    const { vectors, values, iterations } = topEigenvectors(operator, featureDim, dim, options);
    return { inputDim: featureDim, outputDim: dim, mean, scale, projection: vectors, normalize, eigenvalues: values, iterations };
  }
  throw new PixelEmbedderError(`projection must be "none", "random" or "pca", got ${JSON.stringify(options.projection)}`);
}

/** Applies a fitted transform to images [n, inputDim]; returns features [n, outputDim]. */
export function applyPixelTransform(t: PixelTransform, images: Pixels, n: number): Float32Array {
  checkShape(images, n, t.inputDim, 'images');
  const f = t.inputDim;
  const d = t.outputDim;
  const out = new Float32Array(n * d);
  const z = new Float64Array(f);
  for (let i = 0; i < n; i++) {
    const off = i * f;
    for (let j = 0; j < f; j++) z[j] = (images[off + j] - t.mean[j]) * t.scale[j];
    if (!t.projection) {
      for (let j = 0; j < f; j++) out[i * d + j] = z[j];
      continue;
    }
    const p = t.projection;
    let k = 0;
    // Four output coordinates per pass over z keeps z in cache and the sums in registers.
    for (; k + 3 < d; k += 4) {
      const p0 = k * f, p1 = p0 + f, p2 = p1 + f, p3 = p2 + f;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let j = 0; j < f; j++) {
        const v = z[j];
        s0 += v * p[p0 + j];
        s1 += v * p[p1 + j];
        s2 += v * p[p2 + j];
        s3 += v * p[p3 + j];
      }
      out[i * d + k] = s0;
      out[i * d + k + 1] = s1;
      out[i * d + k + 2] = s2;
      out[i * d + k + 3] = s3;
    }
    for (; k < d; k++) {
      const p0 = k * f;
      let s = 0;
      for (let j = 0; j < f; j++) s += z[j] * p[p0 + j];
      out[i * d + k] = s;
    }
  }
  return t.normalize ? l2NormalizeRowsInPlace(out, n, d) : out;
}

// ---------------------------------------------------------------------------------------------
// PCA: top eigenvectors of the covariance of the standardised features.

/** y_r = C x_r for each of the `rows` vectors stored row-wise in x ([rows, f]). */
type CovarianceOperator = (x: Float64Array, rows: number, y: Float64Array) => void;

const BLOCK = 128;

/** Standardises rows [start, start + count) into zt, transposed: zt[j * count + r]. */
function standardisedBlockTransposed(images: Pixels, f: number, mean: Float64Array, scale: Float64Array, start: number, count: number, zt: Float64Array): void {
  for (let r = 0; r < count; r++) {
    const off = (start + r) * f;
    for (let j = 0; j < f; j++) zt[j * count + r] = (images[off + j] - mean[j]) * scale[j];
  }
}

/**
 * c[a * f + b] += Σ_r zt[a * m + r] · zt[b * m + r] for b ≥ a (upper triangle; entries below the
 * diagonal inside 4 × 4 diagonal tiles are written too and ignored). 4 × 4 register tiles: 8 loads
 * per 16 multiply-adds.
 */
function accumulateUpperGram(zt: Float64Array, f: number, m: number, c: Float64Array): void {
  const tiled = f - (f % 4);
  for (let a = 0; a < tiled; a += 4) {
    const a0 = a * m, a1 = a0 + m, a2 = a1 + m, a3 = a2 + m;
    let b = a;
    for (; b < tiled; b += 4) {
      const b0 = b * m, b1 = b0 + m, b2 = b1 + m, b3 = b2 + m;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let r = 0; r < m; r++) {
        const x0 = zt[a0 + r], x1 = zt[a1 + r], x2 = zt[a2 + r], x3 = zt[a3 + r];
        const y0 = zt[b0 + r], y1 = zt[b1 + r], y2 = zt[b2 + r], y3 = zt[b3 + r];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
        s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
      }
      const c0 = a * f + b, c1 = c0 + f, c2 = c1 + f, c3 = c2 + f;
      c[c0] += s00; c[c0 + 1] += s01; c[c0 + 2] += s02; c[c0 + 3] += s03;
      c[c1] += s10; c[c1 + 1] += s11; c[c1 + 2] += s12; c[c1 + 3] += s13;
      c[c2] += s20; c[c2 + 1] += s21; c[c2 + 2] += s22; c[c2 + 3] += s23;
      c[c3] += s30; c[c3 + 1] += s31; c[c3 + 2] += s32; c[c3 + 3] += s33;
    }
  }
  // The remaining columns (f not a multiple of 4), against every row, one pair at a time.
  for (let b = tiled; b < f; b++) {
    for (let a = 0; a <= b; a++) {
      let s = 0;
      for (let r = 0; r < m; r++) s += zt[a * m + r] * zt[b * m + r];
      c[a * f + b] += s;
    }
  }
}

/** Forms C = ZᵀZ / n explicitly (f × f), accumulating blocks of rows. */
function explicitCovariance(images: Pixels, n: number, f: number, mean: Float64Array, scale: Float64Array): CovarianceOperator {
  const c = new Float64Array(f * f);
  const zt = new Float64Array(f * BLOCK);
  for (let start = 0; start < n; start += BLOCK) {
    const count = Math.min(BLOCK, n - start);
    standardisedBlockTransposed(images, f, mean, scale, start, count, zt);
    accumulateUpperGram(zt, f, count, c);
  }
  for (let a = 0; a < f; a++) {
    for (let b = a; b < f; b++) {
      const v = c[a * f + b] / n;
      c[a * f + b] = v;
      c[b * f + a] = v;
    }
  }
  return (x, rows, y) => {
    let r = 0;
    // Four vectors per pass over C: each row of C is loaded once for four dot products.
    for (; r + 3 < rows; r += 4) {
      const x0 = r * f, x1 = x0 + f, x2 = x1 + f, x3 = x2 + f;
      for (let a = 0; a < f; a++) {
        const co = a * f;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let b = 0; b < f; b++) {
          const cv = c[co + b];
          s0 += cv * x[x0 + b];
          s1 += cv * x[x1 + b];
          s2 += cv * x[x2 + b];
          s3 += cv * x[x3 + b];
        }
        y[x0 + a] = s0;
        y[x1 + a] = s1;
        y[x2 + a] = s2;
        y[x3 + a] = s3;
      }
    }
    for (; r < rows; r++) {
      const xo = r * f;
      for (let a = 0; a < f; a++) {
        const co = a * f;
        let s = 0;
        for (let b = 0; b < f; b++) s += c[co + b] * x[xo + b];
        y[xo + a] = s;
      }
    }
  };
}

/** C x = Zᵀ(Z x) / n without forming C (for wide inputs), re-standardising rows on the fly. */
function implicitCovariance(images: Pixels, n: number, f: number, mean: Float64Array, scale: Float64Array): CovarianceOperator {
  return (x, rows, y) => {
    y.fill(0, 0, rows * f);
    const z = new Float64Array(f);
    for (let i = 0; i < n; i++) {
      const off = i * f;
      for (let j = 0; j < f; j++) z[j] = (images[off + j] - mean[j]) * scale[j];
      for (let r = 0; r < rows; r++) {
        const xo = r * f;
        let s = 0;
        for (let j = 0; j < f; j++) s += z[j] * x[xo + j];
        s /= n;
        for (let j = 0; j < f; j++) y[xo + j] += s * z[j];
      }
    }
  };
}

/**
 * Orthonormalises the rows of q ([rows, f]) by modified Gram-Schmidt, twice for stability. A row
 * that collapses (rank deficiency) is replaced by a fresh random direction.
 */
function orthonormaliseRows(q: Float64Array, rows: number, f: number, refill: () => number): void {
  for (let r = 0; r < rows; r++) {
    const ro = r * f;
    for (let attempt = 0; ; attempt++) {
      for (let pass = 0; pass < 2; pass++) {
        for (let p = 0; p < r; p++) {
          const po = p * f;
          let dot = 0;
          for (let j = 0; j < f; j++) dot += q[ro + j] * q[po + j];
          for (let j = 0; j < f; j++) q[ro + j] -= dot * q[po + j];
        }
      }
      let norm = 0;
      for (let j = 0; j < f; j++) norm += q[ro + j] * q[ro + j];
      norm = Math.sqrt(norm);
      if (norm > 1e-10 || attempt >= 8) {
        const inv = norm > 0 ? 1 / norm : 0;
        for (let j = 0; j < f; j++) q[ro + j] *= inv;
        break;
      }
      for (let j = 0; j < f; j++) q[ro + j] = refill();
    }
  }
}

/**
 * Eigen-decomposition of a small symmetric matrix (k × k, row-major) by cyclic Jacobi rotations.
 * Returns eigenvalues sorted descending and eigenvectors as the rows of `vectors`.
 */
export function symmetricEigen(matrix: Float64Array, k: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(k * k);
  for (let i = 0; i < k; i++) v[i * k + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < k; i++) {
      diag += a[i * k + i] * a[i * k + i];
      for (let j = i + 1; j < k; j++) off += a[i * k + j] * a[i * k + j];
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < k; p++) {
      for (let q = p + 1; q < k; q++) {
        const apq = a[p * k + q];
        if (apq === 0) continue;
        const theta = (a[q * k + q] - a[p * k + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < k; r++) {
          // Columns p and q of A.
          const arp = a[r * k + p];
          const arq = a[r * k + q];
          a[r * k + p] = c * arp - s * arq;
          a[r * k + q] = s * arp + c * arq;
        }
        for (let r = 0; r < k; r++) {
          // Rows p and q of A.
          const apr = a[p * k + r];
          const aqr = a[q * k + r];
          a[p * k + r] = c * apr - s * aqr;
          a[q * k + r] = s * apr + c * aqr;
        }
        for (let r = 0; r < k; r++) {
          // Eigenvectors are the columns of V.
          const vrp = v[r * k + p];
          const vrq = v[r * k + q];
          v[r * k + p] = c * vrp - s * vrq;
          v[r * k + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const order = Array.from({ length: k }, (_, i) => i).sort((x, y) => a[y * k + y] - a[x * k + x] || x - y);
  const values = new Float64Array(k);
  const vectors = new Float64Array(k * k);
  order.forEach((col, rank) => {
    values[rank] = a[col * k + col];
    for (let r = 0; r < k; r++) vectors[rank * k + r] = v[r * k + col];
  });
  return { values, vectors };
}

/**
 * The `dim` leading eigenvectors of the covariance operator by subspace iteration with
 * Rayleigh-Ritz (oversampled block, seeded start). Each vector's sign is fixed so that its
 * largest-magnitude entry is positive, so the result is fully determined by the data and seed.
 */
function topEigenvectors(
  apply: CovarianceOperator,
  f: number,
  dim: number,
  options: PixelEmbedderOptions,
): { vectors: Float64Array; values: Float64Array; iterations: number } {
  // A few extra vectors speed convergence (rate λ_{k+1}/λ_dim) at little cost per iteration.
  const k = Math.min(f, dim + 16);
  const maxIterations = options.maxIterations ?? 500;
  const tolerance = options.tolerance ?? 1e-6;
  const rng = createRng(options.seed, 'pixels/pca');
  const refill = () => rng.normal();
  let q = new Float64Array(k * f);
  for (let i = 0; i < q.length; i++) q[i] = rng.normal();
  orthonormaliseRows(q, k, f, refill);
  let y = new Float64Array(k * f);
  const ritz = new Float64Array(k * f);
  const cRitz = new Float64Array(k * f);
  let values: Float64Array = new Float64Array(k);
  let iteration = 0;
  for (; ; iteration++) {
    apply(q, k, y);
    // Rayleigh-Ritz: T = Q C Qᵀ, T = U Λ Uᵀ, Ritz vectors V = Uᵀ Q with C V = Uᵀ Y.
    const t = new Float64Array(k * k);
    for (let i = 0; i < k; i++) {
      for (let j = i; j < k; j++) {
        let s = 0;
        for (let b = 0; b < f; b++) s += q[i * f + b] * y[j * f + b];
        t[i * k + j] = s;
      }
    }
    for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) t[i * k + j] = t[j * k + i];
    const eig = symmetricEigen(t, k);
    values = eig.values;
    ritz.fill(0);
    cRitz.fill(0);
    for (let r = 0; r < k; r++) {
      for (let i = 0; i < k; i++) {
        const u = eig.vectors[r * k + i];
        if (u === 0) continue;
        for (let b = 0; b < f; b++) {
          ritz[r * f + b] += u * q[i * f + b];
          cRitz[r * f + b] += u * y[i * f + b];
        }
      }
    }
    let worst = 0;
    for (let r = 0; r < dim; r++) {
      let s = 0;
      for (let b = 0; b < f; b++) {
        const d = cRitz[r * f + b] - values[r] * ritz[r * f + b];
        s += d * d;
      }
      worst = Math.max(worst, Math.sqrt(s));
    }
    if (worst <= tolerance * Math.max(values[0], 1e-300) || iteration + 1 >= maxIterations) break;
    // Next block: C V, orthonormalised (subspace iteration on the Ritz basis).
    const next = y;
    next.set(cRitz);
    orthonormaliseRows(next, k, f, refill);
    y = q;
    q = next;
  }
  const vectors = ritz.slice(0, dim * f);
  for (let r = 0; r < dim; r++) {
    let at = 0;
    for (let b = 1; b < f; b++) if (Math.abs(vectors[r * f + b]) > Math.abs(vectors[r * f + at])) at = b;
    if (vectors[r * f + at] < 0) for (let b = 0; b < f; b++) vectors[r * f + b] = -vectors[r * f + b];
  }
  return { vectors, values: values.slice(0, dim), iterations: iteration + 1 };
}

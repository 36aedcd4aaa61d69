import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/random/rng.js';
import {
  PixelEmbedderError,
  applyPixelTransform,
  fitPixelTransform,
  l2NormalizeRowsInPlace,
  passThroughFeatures,
  symmetricEigen,
} from '../../src/methods/pixels.js';

function norm(v: ArrayLike<number>, off = 0, d = v.length): number {
  let s = 0;
  for (let i = 0; i < d; i++) s += v[off + i] ** 2;
  return Math.sqrt(s);
}

describe('standardisation', () => {
  // Feature 0: values 0, 2, 4 → mean 2, population std sqrt(8/3) = 1.63299; feature 1 is constant.
  const train = Float32Array.from([0, 10, 2, 10, 4, 10]);
  const std0 = Math.sqrt(8 / 3);

  it('standardises each feature with the training mean and std; constant features become 0', () => {
    const t = fitPixelTransform(train, 3, 2, { projection: 'none', seed: 0, normalize: false });
    expect(Array.from(t.mean)).toEqual([2, 10]);
    expect(t.scale[0]).toBeCloseTo(1 / std0, 12);
    expect(t.scale[1]).toBe(0);
    const out = applyPixelTransform(t, train, 3);
    expect(Array.from(out).map((v) => Number(v.toFixed(5)))).toEqual([-1.22474, 0, 0, 0, 1.22474, 0]);
  });

  it('applies the training statistics to test images', () => {
    const t = fitPixelTransform(train, 3, 2, { projection: 'none', seed: 0, normalize: false });
    const test = applyPixelTransform(t, Float32Array.from([6, 20]), 1);
    expect(test[0]).toBeCloseTo(4 / std0, 6);
    expect(test[1]).toBe(0);
  });

  it('L2-normalises rows by default, leaving zero rows at zero', () => {
    const t = fitPixelTransform(train, 3, 2, { projection: 'none', seed: 0 });
    expect(Array.from(applyPixelTransform(t, train, 3))).toEqual([-1, 0, 0, 0, 1, 0]);
  });

  it('treats uint8 and float32 pixels alike', () => {
    const bytes = Uint8Array.from([0, 10, 2, 10, 4, 10]);
    const a = applyPixelTransform(fitPixelTransform(bytes, 3, 2, { projection: 'none', seed: 0 }), bytes, 3);
    const b = applyPixelTransform(fitPixelTransform(train, 3, 2, { projection: 'none', seed: 0 }), train, 3);
    expect(Array.from(a)).toEqual(Array.from(b));
  });
});

function randomImages(n: number, f: number, seed: number): Uint8Array {
  const rng = createRng(seed, 'test-images');
  const out = new Uint8Array(n * f);
  for (let i = 0; i < out.length; i++) out[i] = rng.int(256);
  return out;
}

describe('random projection', () => {
  const images = randomImages(50, 400, 1);

  it('is seeded: same seed same bits, another seed other bits', () => {
    const a = applyPixelTransform(fitPixelTransform(images, 50, 400, { projection: 'random', dim: 64, seed: 5 }), images, 50);
    const b = applyPixelTransform(fitPixelTransform(images, 50, 400, { projection: 'random', dim: 64, seed: 5 }), images, 50);
    const c = applyPixelTransform(fitPixelTransform(images, 50, 400, { projection: 'random', dim: 64, seed: 6 }), images, 50);
    expect(a.length).toBe(50 * 64);
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer))).toBe(0);
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(c.buffer))).not.toBe(0);
    for (let i = 0; i < 50; i++) expect(norm(a, i * 64, 64)).toBeCloseTo(1, 5);
  });

  it('roughly preserves lengths (entries N(0, 1/dim))', () => {
    const t = fitPixelTransform(images, 50, 400, { projection: 'random', dim: 256, seed: 3, normalize: false });
    const z = applyPixelTransform(fitPixelTransform(images, 50, 400, { projection: 'none', seed: 0, normalize: false }), images, 50);
    const y = applyPixelTransform(t, images, 50);
    for (let i = 0; i < 50; i++) {
      const ratio = norm(y, i * 256, 256) / norm(z, i * 400, 400);
      expect(ratio).toBeGreaterThan(0.8);
      expect(ratio).toBeLessThan(1.2);
    }
  });
});

describe('symmetricEigen', () => {
  it('diagonalises [[2, 1], [1, 2]]', () => {
    const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
    expect(values[0]).toBeCloseTo(3, 12);
    expect(values[1]).toBeCloseTo(1, 12);
    expect(Math.abs(vectors[0])).toBeCloseTo(Math.SQRT1_2, 12);
    expect(vectors[0] * vectors[1]).toBeCloseTo(0.5, 12); // (1, 1)/√2 up to sign
    expect(vectors[2] * vectors[3]).toBeCloseTo(-0.5, 12); // (1, -1)/√2 up to sign
  });
});

/** Standardised covariance computed the plain way, as an independent check. */
function naiveCorrelation(x: Float32Array, n: number, f: number): Float64Array {
  const mean = new Float64Array(f);
  const std = new Float64Array(f);
  for (let j = 0; j < f; j++) {
    for (let i = 0; i < n; i++) mean[j] += x[i * f + j] / n;
    for (let i = 0; i < n; i++) std[j] += (x[i * f + j] - mean[j]) ** 2 / n;
    std[j] = Math.sqrt(std[j]);
  }
  const c = new Float64Array(f * f);
  for (let a = 0; a < f; a++) {
    for (let b = 0; b < f; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += ((x[i * f + a] - mean[a]) / std[a]) * ((x[i * f + b] - mean[b]) / std[b]);
      c[a * f + b] = s / n;
    }
  }
  return c;
}

/** Samples with a planted low-rank structure plus noise. */
function correlatedSamples(n: number, f: number, seed: number): Float32Array {
  const rng = createRng(seed, 'correlated');
  const loadings = Array.from({ length: 3 }, () => Array.from({ length: f }, () => rng.normal()));
  const strengths = [5, 3, 1.5];
  const x = new Float32Array(n * f);
  for (let i = 0; i < n; i++) {
    const s = strengths.map((w) => w * rng.normal());
    for (let j = 0; j < f; j++) x[i * f + j] = s[0] * loadings[0][j] + s[1] * loadings[1][j] + s[2] * loadings[2][j] + 0.5 * rng.normal();
  }
  return x;
}

describe('PCA', () => {
  it('finds the leading eigenvectors of the standardised covariance', () => {
    const n = 600;
    const f = 10;
    const x = correlatedSamples(n, f, 2);
    const t = fitPixelTransform(x, n, f, { projection: 'pca', dim: 3, seed: 9 });
    const reference = symmetricEigen(naiveCorrelation(x, n, f), f);
    for (let r = 0; r < 3; r++) {
      expect(t.eigenvalues![r]).toBeCloseTo(reference.values[r], 6);
      let dot = 0;
      for (let j = 0; j < f; j++) dot += t.projection![r * f + j] * reference.vectors[r * f + j];
      expect(Math.abs(dot)).toBeCloseTo(1, 6);
      // Sign convention: the largest-magnitude entry is positive.
      const row = Array.from(t.projection!.subarray(r * f, (r + 1) * f));
      const biggest = row.reduce((best, v) => (Math.abs(v) > Math.abs(best) ? v : best), 0);
      expect(biggest).toBeGreaterThan(0);
    }
    // Orthonormal rows.
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        let dot = 0;
        for (let j = 0; j < f; j++) dot += t.projection![a * f + j] * t.projection![b * f + j];
        expect(dot).toBeCloseTo(a === b ? 1 : 0, 8);
      }
    }
  });

  it('is deterministic and projects test data with the training basis', () => {
    const x = correlatedSamples(300, 12, 4);
    const t1 = fitPixelTransform(x, 300, 12, { projection: 'pca', dim: 4, seed: 1 });
    const t2 = fitPixelTransform(x, 300, 12, { projection: 'pca', dim: 4, seed: 1 });
    expect(Array.from(t1.projection!)).toEqual(Array.from(t2.projection!));
    const test = x.subarray(0, 12 * 5);
    const y = applyPixelTransform(t1, test, 5);
    // The same rows embedded as part of the training set give the same features.
    expect(Array.from(y)).toEqual(Array.from(applyPixelTransform(t1, x, 300).subarray(0, 20)));
  });

  it('uses the implicit operator for wide inputs and still satisfies C v = λ v', () => {
    const n = 40;
    const f = 4100; // above the explicit-covariance limit
    const x = correlatedSamples(n, f, 6);
    const t = fitPixelTransform(x, n, f, { projection: 'pca', dim: 2, seed: 3, normalize: false });
    const z = applyPixelTransform(fitPixelTransform(x, n, f, { projection: 'none', seed: 0, normalize: false }), x, n);
    for (let r = 0; r < 2; r++) {
      const v = t.projection!.subarray(r * f, (r + 1) * f);
      const zv = new Float64Array(n);
      for (let i = 0; i < n; i++) for (let j = 0; j < f; j++) zv[i] += z[i * f + j] * v[j];
      let residual = 0;
      for (let j = 0; j < f; j++) {
        let cv = 0;
        for (let i = 0; i < n; i++) cv += z[i * f + j] * zv[i];
        residual += (cv / n - t.eigenvalues![r] * v[j]) ** 2;
      }
      expect(Math.sqrt(residual) / t.eigenvalues![0]).toBeLessThan(1e-4);
    }
    expect(t.eigenvalues![0]).toBeGreaterThan(t.eigenvalues![1]);
  });
});

describe('errors and features pass-through', () => {
  it('names the bad parameter', () => {
    const x = new Uint8Array(20);
    expect(() => fitPixelTransform(x, 4, 5, { projection: 'pca', dim: 6, seed: 0 })).toThrow(/dim must be an integer in \[1, 5\]/);
    expect(() => fitPixelTransform(x, 4, 5, { projection: 'random', seed: 0 })).toThrow(PixelEmbedderError);
    expect(() => fitPixelTransform(x, 3, 5, { projection: 'none', seed: 0 })).toThrow(/20 values, expected 3 x 5/);
    const t = fitPixelTransform(x, 4, 5, { projection: 'none', seed: 0 });
    expect(() => applyPixelTransform(t, new Uint8Array(6), 1)).toThrow(/6 values, expected 1 x 5/);
  });

  it('copies precomputed features, optionally normalised', () => {
    const f = Float64Array.from([3, 4, 0, 0]);
    expect(Array.from(passThroughFeatures(f, 2, 2, true))).toEqual([Math.fround(0.6), Math.fround(0.8), 0, 0]);
    expect(Array.from(passThroughFeatures(f, 2, 2, false))).toEqual([3, 4, 0, 0]);
    expect(() => passThroughFeatures(f, 3, 2, true)).toThrow(PixelEmbedderError);
    const rows = Float32Array.from([1, 1]);
    expect(Array.from(l2NormalizeRowsInPlace(rows, 1, 2))).toEqual([Math.fround(Math.SQRT1_2), Math.fround(Math.SQRT1_2)]);
  });
});

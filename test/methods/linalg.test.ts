import { describe, expect, it } from 'vitest';
import {
  RowDotEngine, argmaxRows, gemmNT, gemmTNAccumulate, indicesByClass, l2NormalizeRows, matrixShape, orderByScoreDescending, softmaxRow,
} from '../../src/methods/linalg.js';
import { createRng } from '../../src/random/rng.js';

describe('blocked products', () => {
  it('gemmNT equals naive dot products for every remainder of the 2×4 blocking', () => {
    const rng = createRng(1, 'gemm');
    for (const [m, n, k] of [[1, 1, 1], [2, 4, 3], [3, 5, 7], [5, 9, 2], [4, 8, 16]]) {
      const a = Float32Array.from({ length: 2 + m * k }, () => rng.normal());
      const b = Float64Array.from({ length: 3 + n * k }, () => rng.normal());
      const out = new Float64Array(m * n);
      gemmNT(a, 2, m, b, 3, n, k, out);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a[2 + i * k + p] * b[3 + j * k + p];
          expect(out[i * n + j]).toBeCloseTo(s, 12);
        }
      }
    }
  });

  it('gemmTNAccumulate adds Rᵀ·X', () => {
    const rng = createRng(2, 'gemm');
    for (const [m, c, d] of [[3, 1, 1], [4, 3, 5], [7, 10, 9]]) {
      const r = Float64Array.from({ length: m * c }, () => rng.normal());
      const x = Float32Array.from({ length: 1 + m * d }, () => rng.normal());
      const g = Float64Array.from({ length: c * d }, () => 1);
      gemmTNAccumulate(r, m, c, x, 1, d, g);
      for (let a = 0; a < c; a++) {
        for (let q = 0; q < d; q++) {
          let s = 1;
          for (let i = 0; i < m; i++) s += r[i * c + a] * x[1 + i * d + q];
          expect(g[a * d + q]).toBeCloseTo(s, 12);
        }
      }
    }
  });
});

describe('RowDotEngine (wasm SIMD float32 dot products)', () => {
  it('matches gemmNT for odd shapes, padded dimensions and offsets, against itself or another matrix', () => {
    const rng = createRng(3, 'engine');
    for (const [rows, cols, d] of [[7, 7, 5], [13, 6, 3], [9, 11, 8], [70, 40, 33]]) {
      const a = Float32Array.from({ length: rows * d }, () => rng.normal());
      const b = Float32Array.from({ length: cols * d }, () => rng.normal());
      const self = new RowDotEngine(a, rows, null, rows, d, 8, 16);
      const other = new RowDotEngine(a, rows, b, cols, d, 8, 16);
      expect(self.simd).toBe(true);
      for (const [r0, wantRows, c0, wantCols] of [[0, 1, 0, 1], [1, 5, 2, 5], [rows - 3, 3, 0, 16], [0, 8, cols - 5, 5]]) {
        const m = Math.min(wantRows, rows - r0);
        const n = Math.min(wantCols, cols - c0);
        const got = new Float32Array(m * n);
        const want = new Float64Array(m * n);
        other.tile(r0, m, c0, n, got);
        gemmNT(a, r0 * d, m, b, c0 * d, n, d, want);
        for (let j = 0; j < m * n; j++) expect(got[j]).toBeCloseTo(want[j], 4);
        const mine = Math.min(n, rows - c0);
        if (mine <= 0) continue;
        self.tile(r0, m, c0, mine, got);
        gemmNT(a, r0 * d, m, a, c0 * d, mine, d, want);
        for (let j = 0; j < m * mine; j++) expect(got[j]).toBeCloseTo(want[j], 4);
      }
    }
  });

  it('is exact on small integers and refuses tiles beyond its capacity', () => {
    const a = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const e = new RowDotEngine(a, 2, null, 2, 3, 2, 2);
    const out = new Float32Array(4);
    e.tile(0, 2, 0, 2, out);
    expect(Array.from(out)).toEqual([14, 32, 32, 77]);
    expect(() => new RowDotEngine(a, 2, null, 2, 3, 1, 1).tile(0, 2, 0, 2, out)).toThrow(/exceeds the engine's capacity/);
    expect(() => e.tile(1, 2, 0, 2, out)).toThrow(/outside 2×2/);
  });
});

describe('small helpers', () => {
  it('softmaxRow returns log-sum-exp and is stable for large logits', () => {
    const logits = Float64Array.from([1000, 1000 + Math.log(3)]);
    const out = new Float64Array(2);
    const lse = softmaxRow(logits, 0, 2, out);
    expect(out[0]).toBeCloseTo(0.25, 12);
    expect(lse).toBeCloseTo(1000 + Math.log(4), 9);
  });

  it('argmax takes the first maximum; ordering breaks ties by index', () => {
    expect(Array.from(argmaxRows(Float32Array.from([0.2, 0.5, 0.5, 0.9, 0.1, 0]), 3))).toEqual([1, 0]);
    const s = [3, 1, 3, 2];
    expect(orderByScoreDescending((i) => s[i], 4)).toEqual([0, 2, 3, 1]);
  });

  it('normalises rows and groups indices by class', () => {
    expect(Array.from(l2NormalizeRows(Float32Array.from([3, 4, 0, 0]), 2, 2))).toEqual([0.6000000238418579, 0.800000011920929, 0, 0]);
    expect(indicesByClass(Int32Array.from([1, 0, 1, 2]), 4).map((a) => Array.from(a))).toEqual([[1], [0, 2], [3], []]);
    expect(() => matrixShape({ data: new Float32Array(5), shape: [2, 3] }, 'features')).toThrow(/features has 5 values but shape \[2, 3\] needs 6/);
  });
});

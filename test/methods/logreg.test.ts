import { describe, expect, it } from 'vitest';
import {
  LogisticObjective, fitLogisticRegression, logisticProbabilities, minimizeLbfgs, outOfFoldProbs, predictProba,
  sampleWeights, stratifiedFolds, gatherRows,
} from '../../src/methods/logreg.js';
import { MethodInputError, type FloatTensor } from '../../src/methods/linalg.js';
import { createRng } from '../../src/random/rng.js';

/** K Gaussian clusters around random unit centres plus a shared offset (like CLIP's common direction), rows unit-norm. */
function clusters(n: number, d: number, k: number, seed: number, spread = 1, imbalance = false): { x: FloatTensor; y: Int32Array } {
  const rng = createRng(seed, 'logreg-test');
  const centres = Array.from({ length: k * d }, () => rng.normal());
  const common = Array.from({ length: d }, () => 2 * rng.normal());
  const data = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = imbalance ? (i % 5 === 0 ? 1 : 0) : i % k;
    let s = 0;
    for (let q = 0; q < d; q++) {
      const v = common[q] + centres[y[i] * d + q] + spread * rng.normal();
      data[i * d + q] = v;
      s += v * v;
    }
    for (let q = 0; q < d; q++) data[i * d + q] /= Math.sqrt(s);
  }
  return { x: { data, shape: [n, d] }, y };
}

/** The objective in original coordinates, written independently: C·Σ w·CE + ½‖W‖², and its gradient. */
function naiveLoss(x: FloatTensor, y: Int32Array, k: number, W: Float64Array, b: Float64Array, C: number, w: Float64Array) {
  const [n, d] = x.shape;
  const gW = new Float64Array(k * d);
  const gb = new Float64Array(k);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: k }, (_, c) => {
      let s = b[c];
      for (let q = 0; q < d; q++) s += W[c * d + q] * x.data[i * d + q];
      return s;
    });
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
    loss += C * w[i] * (lse - z[y[i]]);
    for (let c = 0; c < k; c++) {
      const r = C * w[i] * (Math.exp(z[c] - lse) - (c === y[i] ? 1 : 0));
      gb[c] += r;
      for (let q = 0; q < d; q++) gW[c * d + q] += r * x.data[i * d + q];
    }
  }
  for (let j = 0; j < k * d; j++) {
    loss += 0.5 * W[j] * W[j];
    gW[j] += W[j];
  }
  let g2 = 0;
  for (const v of gW) g2 += v * v;
  for (const v of gb) g2 += v * v;
  return { loss, gradNorm: Math.sqrt(g2), gb };
}

describe('LogisticObjective', () => {
  it('matches central finite differences, with and without the reparametrisations', () => {
    const { x, y } = clusters(40, 6, 3, 1);
    const w = Float64Array.from({ length: 40 }, (_, i) => 0.5 + (i % 3));
    for (const pre of [false, true]) {
      const obj = new LogisticObjective(x.data, 40, 6, y, 3, w, 0.7, { center: pre, scaleBias: pre });
      const rng = createRng(5, 'theta');
      const theta = Float64Array.from({ length: obj.size }, () => rng.normal());
      const grad = new Float64Array(obj.size);
      obj.evaluate(theta, grad);
      const h = 1e-5;
      const scratch = new Float64Array(obj.size);
      for (let j = 0; j < obj.size; j++) {
        const plus = Float64Array.from(theta);
        const minus = Float64Array.from(theta);
        plus[j] += h;
        minus[j] -= h;
        const fd = (obj.evaluate(plus, scratch) - obj.evaluate(minus, scratch)) / (2 * h);
        expect(Math.abs(fd - grad[j])).toBeLessThan(1e-7 * (1 + Math.abs(fd)));
      }
    }
  });

  it('is the weight-averaged sklearn objective in original coordinates', () => {
    const { x, y } = clusters(30, 4, 3, 2);
    const w = sampleWeights(y, 3, 'balanced');
    const obj = new LogisticObjective(x.data, 30, 4, y, 3, w, 2, { center: true, scaleBias: true });
    const rng = createRng(9, 'theta');
    const theta = Float64Array.from({ length: obj.size }, () => rng.normal());
    const f = obj.evaluate(theta, new Float64Array(obj.size));
    const naive = naiveLoss(x, y, 3, theta.subarray(0, 12), obj.modelBias(theta), 2, w);
    expect(f * obj.scale).toBeCloseTo(naive.loss, 9);
  });
});

describe('minimizeLbfgs', () => {
  it('solves an ill-conditioned quadratic to the gradient tolerance', () => {
    const diag = [1, 10, 100, 1000, 1e4];
    const target = [1, -2, 3, -4, 5];
    const fn = (v: Float64Array, g: Float64Array): number => {
      let f = 0;
      for (let i = 0; i < 5; i++) {
        g[i] = diag[i] * (v[i] - target[i]);
        f += 0.5 * diag[i] * (v[i] - target[i]) ** 2;
      }
      return f;
    };
    const r = minimizeLbfgs(fn, new Float64Array(5), { tol: 1e-9, ftol: 0, maxIter: 200, history: 10 });
    expect(r.stopReason).toBe('gradient');
    for (let i = 0; i < 5; i++) expect(r.x[i]).toBeCloseTo(target[i], 9);
  });

  it('minimises the Rosenbrock function', () => {
    const fn = (v: Float64Array, g: Float64Array): number => {
      const [a, b] = v;
      g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
      g[1] = 200 * (b - a * a);
      return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
    };
    const r = minimizeLbfgs(fn, Float64Array.from([-1.2, 1]), { tol: 1e-8, ftol: 0, maxIter: 500, history: 5 });
    expect(r.x[0]).toBeCloseTo(1, 6);
    expect(r.x[1]).toBeCloseTo(1, 6);
  });
});

describe('fitLogisticRegression', () => {
  it('reaches a stationary point of the sklearn objective (KKT: ∇ = 0)', () => {
    const { x, y } = clusters(120, 8, 3, 3, 1.5);
    const w = sampleWeights(y, 3, 'none');
    const fit = fitLogisticRegression(x, y, 3, { C: 3, tol: 1e-10 });
    expect(fit.converged).toBe(true);
    const naive = naiveLoss(x, y, 3, fit.weights, fit.bias, 3, w);
    expect(fit.loss).toBeCloseTo(naive.loss, 8);
    expect(naive.gradNorm).toBeLessThan(1e-5 * (1 + Math.abs(naive.loss)));
    expect(fit.gradNorm).toBeLessThan(1e-5 * (1 + Math.abs(fit.loss)));
    // The bias direction (1, …, 1) carries no gradient, so the biases stay centred.
    expect(fit.bias.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 8);
  });

  it('matches a Newton solution of the equivalent binary problem', () => {
    // With K = 2 the multinomial optimum has w1 = −w0 = δ/2 and b1 − b0 = β, where (δ, β) minimises
    // C·Σ log(1 + exp(−s_i(δ·x_i + β))) + ¼‖δ‖², s_i = ±1: a binary logistic regression we solve by Newton.
    const n = 60;
    const d = 3;
    const rng = createRng(4, 'binary');
    const data = new Float32Array(n * d);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 2;
      for (let q = 0; q < d; q++) data[i * d + q] = (y[i] ? 0.6 : -0.4) * (q + 1) / d + 0.8 * rng.normal();
    }
    const C = 0.5;
    const theta = new Float64Array(d + 1); // δ, β
    for (let it = 0; it < 50; it++) {
      const g = new Float64Array(d + 1);
      const H = Array.from({ length: d + 1 }, () => new Float64Array(d + 1));
      for (let i = 0; i < n; i++) {
        const xi = [...data.subarray(i * d, (i + 1) * d), 1];
        const z = xi.reduce((a, v, j) => a + v * theta[j], 0);
        const p = 1 / (1 + Math.exp(-z));
        for (let a = 0; a <= d; a++) {
          g[a] += C * (p - y[i]) * xi[a];
          for (let b = 0; b <= d; b++) H[a][b] += C * p * (1 - p) * xi[a] * xi[b];
        }
      }
      for (let a = 0; a < d; a++) {
        g[a] += 0.5 * theta[a];
        H[a][a] += 0.5;
      }
      // Solve H·step = g by Gaussian elimination.
      const A = H.map((row, a) => [...row, g[a]]);
      for (let c = 0; c <= d; c++) {
        for (let r = c + 1; r <= d; r++) {
          const f = A[r][c] / A[c][c];
          for (let j = c; j <= d + 1; j++) A[r][j] -= f * A[c][j];
        }
      }
      const step = new Array<number>(d + 1).fill(0);
      for (let r = d; r >= 0; r--) {
        let s = A[r][d + 1];
        for (let j = r + 1; j <= d; j++) s -= A[r][j] * step[j];
        step[r] = s / A[r][r];
      }
      for (let a = 0; a <= d; a++) theta[a] -= step[a];
    }
    const fit = fitLogisticRegression({ data, shape: [n, d] }, y, 2, { C, tol: 1e-11 });
    for (let q = 0; q < d; q++) {
      expect(fit.weights[d + q] - fit.weights[q]).toBeCloseTo(theta[q], 6);
      expect(fit.weights[q]).toBeCloseTo(-theta[q] / 2, 6);
    }
    expect(fit.bias[1] - fit.bias[0]).toBeCloseTo(theta[d], 6);
  });

  it('finds the same optimum with and without the internal reparametrisations, in fewer evaluations', () => {
    const { x, y } = clusters(600, 32, 4, 6, 0.8);
    const a = fitLogisticRegression(x, y, 4, { tol: 1e-9, precondition: true });
    const b = fitLogisticRegression(x, y, 4, { tol: 1e-9, precondition: false });
    expect(a.loss).toBeCloseTo(b.loss, 6);
    for (let j = 0; j < a.weights.length; j++) expect(a.weights[j]).toBeCloseTo(b.weights[j], 3);
    expect(a.evaluations).toBeLessThan(b.evaluations);
  });

  it('integer class weights equal duplicated samples; balanced weights favour the minority class', () => {
    const { x, y } = clusters(50, 5, 2, 7, 2, true); // class 1 is 1 in 5
    const [n, d] = x.shape;
    const weighted = fitLogisticRegression(x, y, 2, { classWeight: [1, 2], tol: 1e-10 });
    const dupRows: number[] = [];
    for (let i = 0; i < n; i++) {
      dupRows.push(i);
      if (y[i] === 1) dupRows.push(i);
    }
    const dup = fitLogisticRegression(gatherRows(x.data, d, dupRows), Int32Array.from(dupRows, (i) => y[i]), 2, { tol: 1e-10 });
    for (let j = 0; j < weighted.weights.length; j++) expect(weighted.weights[j]).toBeCloseTo(dup.weights[j], 5);
    expect(weighted.bias[1] - weighted.bias[0]).toBeCloseTo(dup.bias[1] - dup.bias[0], 5);

    // balanced = N / (K·n_k): 50/(2·40) for class 0 and 50/(2·10) for class 1.
    const w = sampleWeights(y, 2, 'balanced');
    expect(w[1]).toBeCloseTo(50 / 80, 12);
    expect(w[0]).toBeCloseTo(50 / 20, 12);
    const plain = fitLogisticRegression(x, y, 2, { tol: 1e-8 });
    const balanced = fitLogisticRegression(x, y, 2, { classWeight: 'balanced', tol: 1e-8 });
    const meanMinority = (p: Float32Array) => p.reduce((a, v, j) => a + (j % 2 === 1 ? v : 0), 0) / n;
    expect(meanMinority(predictProba(balanced, x))).toBeGreaterThan(meanMinority(predictProba(plain, x)) + 0.05);
  });

  it('gives classes absent from the labels probability 0', () => {
    const { x, y } = clusters(60, 4, 2, 8);
    const labels = Int32Array.from(y, (v) => (v === 1 ? 2 : 0)); // classes 0 and 2 of K = 3
    const fit = fitLogisticRegression(x, labels, 3, { classWeight: 'balanced' });
    expect(fit.bias[1]).toBe(-Infinity);
    const p = predictProba(fit, x);
    for (let i = 0; i < 60; i++) {
      expect(p[i * 3 + 1]).toBe(0);
      expect(p[i * 3] + p[i * 3 + 2]).toBeCloseTo(1, 6);
    }
  });

  it('is deterministic to the bit', () => {
    const { x, y } = clusters(200, 16, 3, 9);
    const a = fitLogisticRegression(x, y, 3, { classWeight: 'balanced' });
    const b = fitLogisticRegression(x, y, 3, { classWeight: 'balanced' });
    expect(Buffer.from(a.weights.buffer).equals(Buffer.from(b.weights.buffer))).toBe(true);
    expect(Buffer.from(predictProba(a, x).buffer).equals(Buffer.from(predictProba(b, x).buffer))).toBe(true);
  });

  it('rejects bad input with the offending value', () => {
    const { x, y } = clusters(10, 3, 2, 1);
    expect(() => fitLogisticRegression(x, y, 2, { C: 0 })).toThrow(/C must be > 0, got 0/);
    expect(() => fitLogisticRegression(x, Int32Array.from(y, () => 5), 2)).toThrow(MethodInputError);
    expect(() => fitLogisticRegression(x, y.subarray(0, 5), 2)).toThrow(/labels has length 5, features has 10 rows/);
  });
});

describe('folds and out-of-fold probabilities', () => {
  it('stratifies every class across the folds, deterministically per seed', () => {
    const y = Int32Array.from({ length: 103 }, (_, i) => (i < 60 ? 0 : i < 90 ? 1 : 2));
    const folds = stratifiedFolds(y, 3, 5, 11);
    expect(stratifiedFolds(y, 3, 5, 11)).toEqual(folds);
    expect(stratifiedFolds(y, 3, 5, 12)).not.toEqual(folds);
    const sizes = [0, 0, 0, 0, 0];
    for (let c = 0; c < 3; c++) {
      const perFold = [0, 0, 0, 0, 0];
      for (let i = 0; i < y.length; i++) if (y[i] === c) perFold[folds[i]]++;
      expect(Math.max(...perFold) - Math.min(...perFold)).toBeLessThanOrEqual(1);
    }
    for (const f of folds) sizes[f]++;
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(() => stratifiedFolds(y, 3, 1, 0)).toThrow(/folds must be an integer ≥ 2/);
  });

  it('predicts each fold with the model trained on the other folds', () => {
    const { x, y } = clusters(90, 6, 3, 10, 1.5);
    const reported: string[] = [];
    const oof = outOfFoldProbs(x, y, 3, { folds: 3, seed: 4, onFold: (done, total) => reported.push(`${done}/${total}`) });
    expect(oof.fits).toHaveLength(3);
    expect(reported).toEqual(['1/3', '2/3', '3/3']);
    const folds = stratifiedFolds(y, 3, 3, 4);
    const train = [...y.keys()].filter((i) => folds[i] !== 1);
    const test = [...y.keys()].filter((i) => folds[i] === 1);
    const fit = fitLogisticRegression(gatherRows(x.data, 6, train), Int32Array.from(train, (i) => y[i]), 3);
    const p = predictProba(fit, gatherRows(x.data, 6, test));
    test.forEach((i, r) => {
      for (let c = 0; c < 3; c++) expect(oof.probs[i * 3 + c]).toBe(p[r * 3 + c]);
    });
    const inSample = logisticProbabilities(x, y, 3, { folds: 1, seed: 0 });
    expect(inSample.fits).toHaveLength(1);
    expect(inSample.probs).not.toEqual(oof.probs);
  });
});

// Logistic-regression benchmark (the CLIPCleaner classifier): L-BFGS on 50 000 × 512 synthetic
// CLIP-like features, 10 classes, class-balanced, C = 1: seconds and iterations to converge at the
// default tolerance (scikit-learn's 1e-4) and at 1e-6, final loss and gradient norm. Baseline in the
// same run: plain full-batch gradient descent with step 1/L (L the Lipschitz bound of the gradient)
// given exactly as many objective evaluations as the tight L-BFGS fit used.
import { LogisticObjective, fitLogisticRegression, sampleWeights } from '../src/methods/logreg.js';
import { createRng } from '../src/random/rng.js';
import type { BenchOptions, BenchRow } from './types.js';

const D = 512;
const K = 10;

/** Seeded class clusters around a shared direction (as CLIP features have), rows unit-norm. */
export function syntheticFeatures(n: number, seed: number): { data: Float32Array; labels: Int32Array } {
  const rng = createRng(seed, 'bench/logreg');
  const common = Float64Array.from({ length: D }, () => rng.normal());
  const centres = Float64Array.from({ length: K * D }, () => rng.normal());
  const data = new Float32Array(n * D);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    // Mildly imbalanced classes, so the balanced weights matter.
    const y = Math.min(K - 1, Math.floor(K * rng.next() ** 1.3));
    labels[i] = y;
    let s = 0;
    for (let q = 0; q < D; q++) {
      const v = 2 * common[q] + centres[y * D + q] + 1.5 * rng.normal();
      data[i * D + q] = v;
      s += v * v;
    }
    const inv = 1 / Math.sqrt(s);
    for (let q = 0; q < D; q++) data[i * D + q] *= inv;
  }
  return { data, labels };
}

/**
 * L = ½·λ_max(Σ w_i·x̂_i x̂_iᵀ / Σw) + 1/(C·Σw) bounds the Hessian of the weight-averaged objective
 * (x̂ = [x, 1]; the softmax Jacobian's eigenvalues are ≤ ½). λ_max by power iteration.
 */
function lipschitz(x: Float32Array, n: number, w: Float64Array, C: number): number {
  const rng = createRng(1, 'bench/power');
  let v = Float64Array.from({ length: D + 1 }, () => rng.normal());
  let lambda = 0;
  let wsum = 0;
  for (let i = 0; i < n; i++) wsum += w[i];
  for (let step = 0; step < 30; step++) {
    const norm = Math.hypot(...v);
    v = v.map((a) => a / norm);
    const next = new Float64Array(D + 1);
    for (let i = 0; i < n; i++) {
      const off = i * D;
      let t = v[D];
      for (let q = 0; q < D; q++) t += x[off + q] * v[q];
      t *= w[i];
      for (let q = 0; q < D; q++) next[q] += t * x[off + q];
      next[D] += t;
    }
    lambda = next.reduce((a, b, q) => a + b * v[q], 0) / wsum;
    v = next;
  }
  return 0.5 * lambda + 1 / (C * wsum);
}

export async function benchLogreg(opts: BenchOptions): Promise<BenchRow[]> {
  const n = opts.quick ? 5000 : 50000;
  const C = 1;
  const { data, labels } = syntheticFeatures(n, 42);
  const features = { data, shape: [n, D] };
  const size = `${n}×${D}×${K}`;

  const t0 = performance.now();
  const standard = fitLogisticRegression(features, labels, K, { C, classWeight: 'balanced' });
  const standardS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const tight = fitLogisticRegression(features, labels, K, { C, classWeight: 'balanced', tol: 1e-6 });
  const tightS = (performance.now() - t1) / 1000;

  // Baseline: gradient descent in the original coordinates with the same evaluation budget.
  const weights = sampleWeights(labels, K, 'balanced');
  const objective = new LogisticObjective(data, n, D, labels, K, weights, C, { center: false, scaleBias: false });
  const step = 1 / lipschitz(data, n, weights, C);
  const theta = new Float64Array(objective.size);
  const grad = new Float64Array(objective.size);
  let f = 0;
  const t2 = performance.now();
  for (let e = 0; e < tight.evaluations; e++) {
    f = objective.evaluate(theta, grad);
    if (e < tight.evaluations - 1) for (let j = 0; j < theta.length; j++) theta[j] -= step * grad[j];
  }
  const gdS = (performance.now() - t2) / 1000;
  const gdLoss = f * objective.scale;
  const gdGradNorm = Math.hypot(...grad) * objective.scale;

  const bench = 'logreg';
  const secondsTarget = opts.quick ? '≤ 2 s' : '≤ 10 s (a few seconds)';
  const secondsLimit = opts.quick ? 2 : 10;
  return [
    { bench, metric: `seconds to tol 1e-4 (${size})`, value: standardS, unit: 's', target: secondsTarget, ok: standardS <= secondsLimit },
    { bench, metric: 'iterations to tol 1e-4', value: standard.iterations, unit: 'iter' },
    { bench, metric: 'evaluations to tol 1e-4', value: standard.evaluations, unit: 'evals' },
    { bench, metric: 'converged at tol 1e-4', value: standard.converged ? 1 : 0, unit: 'bool', target: '1', ok: standard.converged },
    { bench, metric: `seconds to tol 1e-6 (${size})`, value: tightS, unit: 's' },
    { bench, metric: 'evaluations to tol 1e-6', value: tight.evaluations, unit: 'evals' },
    {
      bench, metric: 'final loss vs gradient descent (same evals)', value: tight.loss, unit: 'loss', baseline: gdLoss,
      ratio: tight.loss / gdLoss, target: '< baseline', ok: tight.loss < gdLoss,
    },
    {
      bench, metric: 'gradient norm vs gradient descent (same evals)', value: tight.gradNorm, unit: '‖∇‖', baseline: gdGradNorm,
      ratio: tight.gradNorm / gdGradNorm, target: '< baseline', ok: tight.gradNorm < gdGradNorm,
    },
    { bench, metric: 'seconds per evaluation (gradient descent)', value: gdS / tight.evaluations, unit: 's' },
  ];
}

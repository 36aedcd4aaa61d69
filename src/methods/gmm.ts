// One-dimensional two-component Gaussian mixture fitted by EM, as scikit-learn's GaussianMixture(2)
// does it (defaults: tol 1e-3 on the mean log-likelihood, reg_covar 1e-6 added to each variance,
// at most 100 iterations), but with a deterministic initialisation instead of seeded k-means++:
// 1-D k-means (Lloyd) started from the minimum and the maximum, whose hard assignment gives the
// first M step. In one dimension that start is where k-means++ lands on a bimodal sample anyway.
import { MethodInputError, checkLabels, indicesByClass } from './linalg.js';

export interface Gmm1dOptions {
  /** EM iterations at most. Default 100. */
  maxIter?: number;
  /** Converged when the mean log-likelihood changes by less than this. Default 1e-3. */
  tol?: number;
  /** Added to each variance (the variance floor). Default 1e-6. */
  regCovar?: number;
}

export interface Gmm1dResult {
  means: [number, number];
  variances: [number, number];
  weights: [number, number];
  /** Index (0 or 1) of the component with the higher mean. */
  high: 0 | 1;
  /** Per sample: posterior probability of the higher-mean component. */
  posteriorHigh: Float64Array;
  iterations: number;
  converged: boolean;
  /** Mean log-likelihood per sample at the final parameters. */
  logLikelihood: number;
  /** Fewer than two distinct values: nothing to separate, every posterior is 1. */
  degenerate: boolean;
}

const LOG_2PI = Math.log(2 * Math.PI);

export function fitGmm1d(values: ArrayLike<number>, opts: Gmm1dOptions = {}): Gmm1dResult {
  const maxIter = opts.maxIter ?? 100;
  const tol = opts.tol ?? 1e-3;
  const reg = opts.regCovar ?? 1e-6;
  if (!Number.isInteger(maxIter) || maxIter < 1) throw new MethodInputError(`gmm maxIter must be a positive integer, got ${maxIter}`);
  if (!(tol >= 0)) throw new MethodInputError(`gmm tol must be ≥ 0, got ${tol}`);
  if (!(reg >= 0)) throw new MethodInputError(`gmm regCovar must be ≥ 0, got ${reg}`);
  const n = values.length;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) throw new MethodInputError(`gmm input[${i}] is not finite (${v})`);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (n < 2 || min === max) {
    const m = n > 0 ? min : 0;
    return {
      means: [m, m], variances: [reg, reg], weights: [0.5, 0.5], high: 1,
      posteriorHigh: new Float64Array(n).fill(1), iterations: 0, converged: true, logLikelihood: 0, degenerate: true,
    };
  }

  // Initial hard split by 1-D k-means from the extremes.
  const resp = new Float64Array(n); // responsibility of component 1
  let c0 = min;
  let c1 = max;
  for (let it = 0; it < 100; it++) {
    let s0 = 0, n0 = 0, s1 = 0, n1 = 0;
    const cut = 0.5 * (c0 + c1);
    for (let i = 0; i < n; i++) {
      if (values[i] > cut) { s1 += values[i]; n1++; } else { s0 += values[i]; n0++; }
    }
    const next0 = s0 / n0;
    const next1 = s1 / n1;
    if (next0 === c0 && next1 === c1) break;
    c0 = next0;
    c1 = next1;
  }
  const cut = 0.5 * (c0 + c1);
  for (let i = 0; i < n; i++) resp[i] = values[i] > cut ? 1 : 0;

  const means: [number, number] = [0, 0];
  const variances: [number, number] = [0, 0];
  const weights: [number, number] = [0, 0];
  const mStep = (): void => {
    // scikit-learn adds 10·ε to the component masses so an empty component stays finite.
    let m0 = 10 * Number.EPSILON, m1 = 10 * Number.EPSILON, s0 = 0, s1 = 0;
    for (let i = 0; i < n; i++) {
      m1 += resp[i];
      m0 += 1 - resp[i];
      s1 += resp[i] * values[i];
      s0 += (1 - resp[i]) * values[i];
    }
    means[0] = s0 / m0;
    means[1] = s1 / m1;
    let v0 = 0, v1 = 0;
    for (let i = 0; i < n; i++) {
      v0 += (1 - resp[i]) * (values[i] - means[0]) ** 2;
      v1 += resp[i] * (values[i] - means[1]) ** 2;
    }
    variances[0] = v0 / m0 + reg;
    variances[1] = v1 / m1 + reg;
    weights[0] = m0 / n;
    weights[1] = m1 / n;
  };
  /** Writes component-1 responsibilities and returns the mean log-likelihood. */
  const eStep = (): number => {
    const a0 = Math.log(weights[0]) - 0.5 * (LOG_2PI + Math.log(variances[0]));
    const a1 = Math.log(weights[1]) - 0.5 * (LOG_2PI + Math.log(variances[1]));
    let total = 0;
    for (let i = 0; i < n; i++) {
      const l0 = a0 - (0.5 * (values[i] - means[0]) ** 2) / variances[0];
      const l1 = a1 - (0.5 * (values[i] - means[1]) ** 2) / variances[1];
      const top = Math.max(l0, l1);
      const lse = top + Math.log(Math.exp(l0 - top) + Math.exp(l1 - top));
      resp[i] = Math.exp(l1 - lse);
      total += lse;
    }
    return total / n;
  };

  mStep();
  let logLikelihood = -Infinity;
  let converged = false;
  let iterations = 0;
  for (let it = 1; it <= maxIter; it++) {
    iterations = it;
    const prev = logLikelihood;
    logLikelihood = eStep();
    mStep();
    if (Math.abs(logLikelihood - prev) < tol) {
      converged = true;
      break;
    }
  }
  logLikelihood = eStep();
  const high: 0 | 1 = means[1] >= means[0] ? 1 : 0;
  const posteriorHigh = new Float64Array(n);
  for (let i = 0; i < n; i++) posteriorHigh[i] = high === 1 ? resp[i] : 1 - resp[i];
  return { means, variances, weights, high, posteriorHigh, iterations, converged, logLikelihood, degenerate: false };
}

/** Min-max normalises `scores` within each class: (s − min_c) / (max_c − min_c); 0 where max = min. */
export function minMaxWithinClass(scores: ArrayLike<number>, labels: Int32Array, numClasses: number): Float64Array {
  if (scores.length !== labels.length) {
    throw new MethodInputError(`scores has length ${scores.length}, labels has ${labels.length}`);
  }
  checkLabels(labels, numClasses, 'labels');
  const out = new Float64Array(scores.length);
  for (const members of indicesByClass(labels, numClasses)) {
    let lo = Infinity, hi = -Infinity;
    for (const i of members) {
      if (scores[i] < lo) lo = scores[i];
      if (scores[i] > hi) hi = scores[i];
    }
    const range = hi - lo;
    for (const i of members) out[i] = range > 0 ? (scores[i] - lo) / range : 0;
  }
  return out;
}

export interface PerClassGmmResult {
  /** Scores min-max normalised within each class. */
  normalized: Float64Array;
  /** Posterior of the higher-mean component of the sample's class mixture. */
  posteriorHigh: Float64Array;
  /** Per class: the fitted means (normalised scale) and whether EM converged; null for empty classes. */
  fits: Array<{ means: [number, number]; converged: boolean; degenerate: boolean } | null>;
}

/** CLIPCleaner's per-class GMM: normalise scores within each class, fit a 2-component GMM per class. */
export function perClassGmm(
  scores: ArrayLike<number>, labels: Int32Array, numClasses: number, opts: Gmm1dOptions = {},
): PerClassGmmResult {
  const normalized = minMaxWithinClass(scores, labels, numClasses);
  const posteriorHigh = new Float64Array(scores.length);
  const fits: PerClassGmmResult['fits'] = [];
  for (const members of indicesByClass(labels, numClasses)) {
    if (members.length === 0) {
      fits.push(null);
      continue;
    }
    const vals = new Float64Array(members.length);
    for (let r = 0; r < members.length; r++) vals[r] = normalized[members[r]];
    const fit = fitGmm1d(vals, opts);
    for (let r = 0; r < members.length; r++) posteriorHigh[members[r]] = fit.posteriorHigh[r];
    const sorted: [number, number] = fit.high === 1 ? [fit.means[0], fit.means[1]] : [fit.means[1], fit.means[0]];
    fits.push({ means: sorted, converged: fit.converged, degenerate: fit.degenerate });
  }
  return { normalized, posteriorHigh, fits };
}

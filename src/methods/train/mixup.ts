// Mixup draws (Zhang et al. 2018): one λ ~ Beta(α, α) per batch, folded to λ = max(λ, 1 − λ) so the
// mixed sample stays closer to its own image (as in the MixFix/DivideMix reference code).
import type { Rng } from '../../random/rng.js';

export class MixupError extends Error {
  override name = 'MixupError';
}

/** Gamma(shape, 1) by Marsaglia & Tsang (2000), boosted for shape < 1. */
export function sampleGamma(shape: number, rng: Rng): number {
  if (!(shape > 0)) throw new MixupError(`gamma shape must be > 0, got ${shape}`);
  if (shape < 1) {
    let u = rng.next();
    while (u === 0) u = rng.next();
    return sampleGamma(shape + 1, rng) * u ** (1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.normal();
    const v0 = 1 + c * x;
    if (v0 <= 0) continue;
    const v = v0 * v0 * v0;
    const u = rng.next();
    if (u < 1 - 0.0331 * x ** 4) return d * v;
    if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

export function sampleBeta(alpha: number, beta: number, rng: Rng): number {
  const a = sampleGamma(alpha, rng);
  const b = sampleGamma(beta, rng);
  return a + b === 0 ? 0.5 : a / (a + b);
}

/** λ for one batch: Beta(α, α) folded into [0.5, 1]. */
export function mixupLambda(alpha: number, rng: Rng): number {
  if (!(alpha > 0)) throw new MixupError(`mixup alpha must be > 0, got ${alpha}`);
  const lambda = sampleBeta(alpha, alpha, rng);
  return Math.max(lambda, 1 - lambda);
}

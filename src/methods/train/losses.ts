// Per-sample losses on soft targets Y [B, K] (rows sum to 1; one-hot without mixup).
//   ce   −Σ_k y_k log p_k
//   gce  Σ_k y_k (1 − p_k^q) / q  (Zhang & Sabuncu 2018). With a one-hot target this is the usual
//        (1 − p_ỹ^q)/q; with mixup's two-hot target it is the λ-weighted sum of the GCE losses of
//        the two labels, i.e. the same soft-target generalisation that soft CE is of CE.
//        q → 0 gives CE, q = 1 gives MAE (up to a constant).
// p^q is computed as exp(q·log p) from log-softmax, and 1 − p^q as −expm1(q·log p), which stays
// accurate in float32 when q·log p is tiny (small q or confident predictions).
import type * as tfjs from '@tensorflow/tfjs';
import type { Tf } from './tf.js';

export type LossConfig = { kind: 'ce' } | { kind: 'gce'; q: number };

export class LossError extends Error {
  override name = 'LossError';
}

export function checkLoss(loss: LossConfig): void {
  if (loss.kind === 'gce' && !(loss.q > 0 && loss.q <= 1)) throw new LossError(`GCE q must be in (0, 1], got ${loss.q}`);
}

/** Loss of each row: logits [B, K], targets [B, K] → [B]. */
export function perSampleLoss(tf: Tf, logits: tfjs.Tensor2D, targets: tfjs.Tensor2D, loss: LossConfig): tfjs.Tensor1D {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    if (loss.kind === 'ce') return tf.neg(tf.sum(tf.mul(targets, logp), 1)) as tfjs.Tensor1D;
    const oneMinusPq = tf.neg(tf.expm1(tf.mul(logp, loss.q)));
    return tf.div(tf.sum(tf.mul(targets, oneMinusPq), 1), loss.q) as tfjs.Tensor1D;
  });
}

/**
 * The same losses on one row without tfjs, for heads trained on plain arrays: from logits
 * z[zOff..zOff+k) and soft targets y[yOff..), writes dℓ/dz into grad[gOff..) and returns ℓ.
 *   ce   dℓ/dz_k = p_k·Σ_j y_j − y_k
 *   gce  dℓ/dz_k = p_k·Σ_j y_j p_j^q − y_k p_k^q
 * Computed in float64 (p from a max-shifted softmax, p^q as exp(q·log p)).
 */
export function rowLossGrad(
  z: Float64Array, zOff: number, y: Float32Array, yOff: number, k: number, loss: LossConfig, grad: Float64Array, gOff: number,
): number {
  let max = -Infinity;
  for (let c = 0; c < k; c++) if (z[zOff + c] > max) max = z[zOff + c];
  let sum = 0;
  for (let c = 0; c < k; c++) sum += Math.exp(z[zOff + c] - max);
  const logSum = Math.log(sum) + max;
  let value = 0;
  if (loss.kind === 'ce') {
    let ySum = 0;
    for (let c = 0; c < k; c++) {
      const yc = y[yOff + c];
      ySum += yc;
      if (yc !== 0) value -= yc * (z[zOff + c] - logSum);
    }
    for (let c = 0; c < k; c++) grad[gOff + c] = Math.exp(z[zOff + c] - logSum) * ySum - y[yOff + c];
    return value;
  }
  const q = loss.q;
  let weighted = 0;
  for (let c = 0; c < k; c++) {
    const logp = z[zOff + c] - logSum;
    const yc = y[yOff + c];
    // grad holds y_c·p_c^q for now.
    const ypq = yc === 0 ? 0 : yc * Math.exp(q * logp);
    grad[gOff + c] = ypq;
    weighted += ypq;
    if (yc !== 0) value -= (yc * Math.expm1(q * logp)) / q;
  }
  for (let c = 0; c < k; c++) grad[gOff + c] = Math.exp(z[zOff + c] - logSum) * weighted - grad[gOff + c];
  return value;
}

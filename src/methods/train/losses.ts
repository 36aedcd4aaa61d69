// Per-sample losses on soft targets Y [B, K] (rows sum to 1; one-hot without mixup).
//   ce   −Σ_k y_k log p_k
//   gce  Σ_k y_k (1 − p_k^q) / q  (Zhang & Sabuncu 2018). With a one-hot target this is the usual
//        (1 − p_ỹ^q)/q; with mixup's two-hot target it is the λ-weighted sum of the GCE losses of
//        the two labels, i.e. the same soft-target generalisation that soft CE is of CE.
//        q → 0 gives CE, q = 1 gives MAE (up to a constant).
// p^q is computed as exp(q·log p) from log-softmax, and 1 − p^q as −expm1(q·log p), which stays
// accurate in float32 when q·log p is tiny (small q or confident predictions).
import type * as tfjs from '@tensorflow/tfjs';
import type { Tf } from './backend.js';

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

// Transductive CLIP's class-conditional contrastive loss and its per-epoch ensemble labels, as
// additions to `train`'s loop (trainer.ts calls these; the head code is untouched).
//
// Contrastive term (supervised contrastive, Khosla et al. 2020, positives = samples of the batch
// that share the current label): with z_i = the head's output (logits, a learned projection of the
// frozen features) normalised to unit length,
//   L_i = −1/|P(i)| Σ_{p∈P(i)} log( exp(z_i·z_p/τ) / Σ_{a≠i} exp(z_i·z_a/τ) ),
// averaged over the anchors with at least one positive; the step's loss is CE/GCE + weight·mean L_i.
// The label of a row is the arg-max of its (possibly mixup-soft) target.
//
// Ensemble labels (Transductive CLIP): after every epoch ema ← m·ema + (1 − m)·p (started from the
// initial probabilities, e.g. zero-shot, else the one-hot given labels) and the next epoch trains on
// arg-max ema for the samples of the training set.
import type * as tfjs from '@tensorflow/tfjs';
import { emaUpdate } from '../ensemble-labels.js';
import type { Tf } from './tf.js';

export interface ContrastiveConfig {
  weight: number;
  temperature: number;
}

export interface EnsembleLabelConfig {
  momentum: number;
  /** [N, K] initial probabilities (zero-shot); one-hot given labels when absent. */
  initial?: Float32Array;
}

export class ContrastiveError extends Error {
  override name = 'ContrastiveError';
}

export function checkContrastive(c: ContrastiveConfig | null | undefined, e: EnsembleLabelConfig | null | undefined): void {
  if (c && !(c.weight >= 0 && Number.isFinite(c.weight))) throw new ContrastiveError(`contrastive weight must be ≥ 0, got ${c.weight}`);
  if (c && !(c.temperature > 0)) throw new ContrastiveError(`contrastive temperature must be > 0, got ${c.temperature}`);
  if (e && !(e.momentum >= 0 && e.momentum <= 1)) throw new ContrastiveError(`ensemble-label momentum must be in [0, 1], got ${e.momentum}`);
}

/** The mean supervised-contrastive loss of a batch: embeddings [B, E] (normalised here), targets [B, K]. */
export function supConLoss(tf: Tf, embeddings: tfjs.Tensor2D, targets: tfjs.Tensor2D, temperature: number): tfjs.Scalar {
  return tf.tidy(() => {
    const b = embeddings.shape[0];
    const z = tf.div(embeddings, tf.add(tf.norm(embeddings, 'euclidean', 1, true), 1e-12));
    const labels = tf.argMax(targets, 1);
    const same = tf.cast(tf.equal(tf.expandDims(labels, 1), tf.expandDims(labels, 0)), 'float32');
    const offDiag = tf.sub(tf.onesLike(same), tf.eye(b));
    const positives = tf.mul(same, offDiag);
    const sim = tf.div(tf.matMul(z, z, false, true), temperature);
    // log-softmax over a ≠ i: mask the diagonal with a large negative before the log-sum-exp.
    const masked = tf.add(sim, tf.mul(tf.eye(b), -1e9));
    const logProb = tf.sub(sim, tf.logSumExp(masked, 1, true));
    const count = tf.sum(positives, 1);
    const hasPositive = tf.cast(tf.greater(count, 0), 'float32');
    const perAnchor = tf.div(tf.neg(tf.sum(tf.mul(positives, logProb), 1)), tf.maximum(count, 1));
    return tf.div(tf.sum(tf.mul(perAnchor, hasPositive)), tf.maximum(tf.sum(hasPositive), 1)) as tfjs.Scalar;
  });
}

/** Initial EMA state: the given probabilities, or the one-hot labels. */
export function initialEma(config: EnsembleLabelConfig, labels: Int32Array, numClasses: number): Float32Array {
  if (config.initial) {
    if (config.initial.length !== labels.length * numClasses) {
      throw new ContrastiveError(`initial probabilities have ${config.initial.length} values, expected ${labels.length}·${numClasses}`);
    }
    return Float32Array.from(config.initial);
  }
  const out = new Float32Array(labels.length * numClasses);
  labels.forEach((y, i) => {
    if (y >= 0 && y < numClasses) out[i * numClasses + y] = 1;
  });
  return out;
}

/** One epoch's ensemble-label update: the new EMA and the labels (arg-max) to train on next. */
export function nextEnsembleLabels(ema: Float32Array, probs: Float32Array, numClasses: number, momentum: number): { ema: Float32Array; labels: Int32Array } {
  return emaUpdate(ema, probs, numClasses, momentum);
}

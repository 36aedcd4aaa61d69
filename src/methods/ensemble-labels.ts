// Transductive CLIP's ensemble labels: the label used at a round is the argmax of an exponential
// moving average of the model's past predictions, started from CLIP's zero-shot probabilities:
//   ema_0 = p_zs,  ema_t = m · ema_{t−1} + (1 − m) · p_t,  label_t = argmax_k ema_t.
import { MethodInputError, argmaxRows } from './linalg.js';

export interface EnsembleLabels {
  /** [N, K] moving average. */
  ema: Float32Array;
  /** argmax of each row (first on ties). */
  labels: Int32Array;
}

function checkMomentum(momentum: number): void {
  if (!(momentum >= 0 && momentum <= 1)) throw new MethodInputError(`momentum must be in [0, 1], got ${momentum}`);
}

/** One update: m · previous + (1 − m) · probs. */
export function emaUpdate(previous: Float32Array, probs: Float32Array, numClasses: number, momentum: number): EnsembleLabels {
  checkMomentum(momentum);
  if (previous.length !== probs.length) {
    throw new MethodInputError(`previous EMA has ${previous.length} values, predictions have ${probs.length}`);
  }
  if (probs.length % numClasses !== 0) {
    throw new MethodInputError(`predictions have ${probs.length} values, not a multiple of K = ${numClasses}`);
  }
  const ema = new Float32Array(probs.length);
  for (let j = 0; j < probs.length; j++) ema[j] = momentum * previous[j] + (1 - momentum) * probs[j];
  return { ema, labels: argmaxRows(ema, numClasses) };
}

/** The EMA after a sequence of rounds of predictions, started from `initial` (zero-shot probabilities). */
export function ensembleLabels(
  initial: Float32Array, rounds: readonly Float32Array[], numClasses: number, momentum: number,
): EnsembleLabels {
  checkMomentum(momentum);
  if (initial.length % numClasses !== 0) {
    throw new MethodInputError(`initial probabilities have ${initial.length} values, not a multiple of K = ${numClasses}`);
  }
  let state: EnsembleLabels = { ema: Float32Array.from(initial), labels: argmaxRows(initial, numClasses) };
  for (const probs of rounds) state = emaUpdate(state.ema, probs, numClasses, momentum);
  return state;
}

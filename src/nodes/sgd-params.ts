// Params that `train` and `prompt-tune` share (their type, schema pieces and schedule): both run the same SGD schedule and
// MixFix after every epoch, so they are declared once and read the same in both nodes' docs.
import type { LrSchedule } from '../methods/train/schedule.js';

/** The params both nodes read the same way. */
export interface SgdParams {
  loss: 'ce' | 'gce';
  q: number;
  epochs: number;
  batch_size: number;
  lr: number;
  momentum: number;
  weight_decay: number;
  schedule: 'cosine' | 'step';
  step_size: number;
  gamma: number;
  warmup_epochs: number;
  mixfix: false | { absorb: number; relabel: number };
}

/** The learning-rate schedule of the trainers, from the params. */
export function scheduleOf(p: Pick<SgdParams, 'schedule' | 'step_size' | 'gamma'>): LrSchedule {
  return p.schedule === 'step' ? { kind: 'step', stepSize: p.step_size, gamma: p.gamma } : { kind: 'cosine' };
}

/** A probability threshold param. */
export const threshold = (what: string) => ({ type: 'number', minimum: 0, maximum: 1, description: what }) as const;

/** The learning-rate schedule: cosine, or step decay. */
export const SCHEDULE_PARAMS = {
  schedule: { enum: ['cosine', 'step'], default: 'cosine', description: 'cosine: per-step decay to 0 over all epochs; step: lr·gamma^⌊epoch/step_size⌋.' },
  step_size: { type: 'integer', minimum: 1, maximum: 100_000, default: 10, description: 'Epochs between decays of the step schedule.' },
  gamma: { type: 'number', exclusiveMinimum: 0, default: 0.1, description: 'Decay factor of the step schedule.' },
} as const;

/** `mixfix`: false, or the absorb/relabel thresholds of MixFix run after every epoch. */
export const MIXFIX_PARAM = {
  default: false,
  description: 'false, or {absorb, relabel}: after every epoch recompute the training set with MixFix from the labels input (noisy labels) and the mask input (initial selection).',
  anyOf: [
    { const: false },
    {
      type: 'object', additionalProperties: false, required: ['absorb', 'relabel'],
      properties: { absorb: threshold('θ_absorb (reference 0.8).'), relabel: threshold('θ_relabel (reference 0.8).') },
    },
  ],
} as const;

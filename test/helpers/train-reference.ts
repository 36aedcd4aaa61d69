// The PyTorch reference fixture of the linear heads (test/fixtures/train-reference.json, written by
// scripts/train-reference.ts): its shape, and the TrainOptions/TrainData a problem stands for.
import type { HeadConfig } from '../../src/methods/train/heads.js';
import type { TrainData, TrainOptions } from '../../src/methods/train/trainer.js';

export interface ReferenceSpec {
  name: string;
  head: { kind: 'linear' | 'cosine' | 'text-init'; bias: boolean; learn_scale: boolean; scale: number; temperature?: number };
  loss: { kind: 'ce' } | { kind: 'gce'; q: number };
  mixup: { alpha: number } | null;
  sampler: 'shuffle' | 'balanced';
  lr: number;
  schedule: 'cosine' | 'step';
  warmup_epochs: number;
  weighted: boolean;
}

export interface ReferenceProblem extends ReferenceSpec {
  seed: number;
  n: number;
  d: number;
  k: number;
  epochs: number;
  batch_size: number;
  momentum: number;
  weight_decay: number;
  features: number[];
  labels: number[];
  sample_weights: number[];
  /** [K, 1, D] for text-init. */
  text_features?: number[];
  /** The initial flat parameter vector. */
  init: number[];
  steps: { indices: number[]; lambda: number | null; partner: number[] | null; lr: number }[];
  torch: { params: number[]; losses: number[] };
}

export interface ReferenceFixture {
  generated_by: string;
  torch: string;
  problems: ReferenceProblem[];
}

export function referenceOptions(p: ReferenceProblem): { options: TrainOptions; data: TrainData } {
  const scale = { init: p.head.scale, learn: p.head.learn_scale };
  const head: HeadConfig = p.head.kind === 'text-init'
    ? { kind: 'text-init', textFeatures: Float32Array.from(p.text_features ?? []), promptsPerClass: 1, temperature: p.head.temperature ?? 0.01, bias: p.head.bias, logitScale: scale }
    : { kind: p.head.kind, bias: p.head.bias, logitScale: scale };
  return {
    data: {
      features: Float32Array.from(p.features), numSamples: p.n, dim: p.d, labels: Int32Array.from(p.labels), numClasses: p.k,
      sampleWeights: p.weighted ? Float32Array.from(p.sample_weights) : undefined,
    },
    options: {
      head, loss: p.loss, mixup: p.mixup, sampler: p.sampler, epochs: p.epochs, batchSize: p.batch_size, lr: p.lr,
      momentum: p.momentum, weightDecay: p.weight_decay,
      schedule: p.schedule === 'step' ? { kind: 'step', stepSize: 2, gamma: 0.5 } : { kind: 'cosine' },
      warmupEpochs: p.warmup_epochs, mixfix: null, seed: p.seed,
    },
  };
}

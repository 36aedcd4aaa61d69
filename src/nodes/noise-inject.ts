// The `noise-inject` node: corrupts clean labels with a synthetic noise model (methods.md, "Noise
// models") and keeps the true labels beside the noisy ones for measuring selection quality.
import { injectNoise, NoiseParamError, type NoiseMapSpec, type NoiseSpec } from '../methods/noise.js';
import { tensor, type Tensor } from '../runtime/tensor.js';
import { defineNode, type InputPort } from '../runtime/types/node-type.js';
import { requiredClassNames } from './inputs.js';

export type NoiseModel = 'symmetric' | 'asymmetric' | 'instance' | 'confusion';

export interface NoiseInjectParams {
  model: NoiseModel;
  rate?: number;
  include_true_class: boolean;
  map?: NoiseMapSpec;
  transition?: number[][];
  instance_std: number;
}


function labelsOf(value: unknown): Int32Array {
  const t = value as Tensor;
  if (!t || t.dtype !== 'int32' || t.shape.length !== 1) {
    throw new NoiseParamError(`input "labels" must be int32 [N], got ${t ? `${t.dtype} [${t.shape.join(', ')}]` : 'nothing'}`);
  }
  return t.data as Int32Array;
}

/**
 * Refuses contradictory params (those that need no input to judge); called at planning through
 * `ports`, so a bad combination at one grid point is reported, with the point, before anything runs.
 */
export function checkNoiseParams(p: NoiseInjectParams): void {
  if (p.model !== 'asymmetric' && (p.map !== undefined || p.transition !== undefined)) {
    throw new NoiseParamError(`params "map" and "transition" only apply to model "asymmetric", not "${p.model}"`);
  }
  if (p.model === 'asymmetric' && p.transition !== undefined) {
    if (p.map !== undefined) throw new NoiseParamError('give either "map" or "transition" for model "asymmetric", not both');
    if (p.rate !== undefined) throw new NoiseParamError('param "rate" has no meaning with "transition": the matrix diagonal sets how often labels stay');
    return;
  }
  if (p.rate === undefined) throw new NoiseParamError(`model "${p.model}" needs param "rate" (the noise rate in [0, 1])`);
  if (p.model === 'asymmetric' && p.map === undefined) {
    throw new NoiseParamError('model "asymmetric" needs param "map" (cifar10, cifar100 or {from: to}) or "transition"');
  }
}

/** Turns validated params (and the optional inputs) into a noise spec, refusing contradictions. */
export function noiseSpecOf(p: NoiseInjectParams, inputs: { features?: Tensor; zeroshotProbs?: Tensor }): NoiseSpec {
  checkNoiseParams(p);
  if (p.model === 'asymmetric' && p.transition !== undefined) return { model: 'asymmetric', transition: p.transition };
  if (p.rate === undefined) throw new NoiseParamError(`model "${p.model}" needs param "rate" (the noise rate in [0, 1])`);
  switch (p.model) {
    case 'symmetric':
      return { model: 'symmetric', rate: p.rate, includeTrueClass: p.include_true_class };
    case 'asymmetric':
      if (p.map === undefined) throw new NoiseParamError('model "asymmetric" needs param "map" (cifar10, cifar100 or {from: to}) or "transition"');
      return { model: 'asymmetric', rate: p.rate, map: p.map };
    case 'instance':
      if (!inputs.features) throw new NoiseParamError('model "instance" needs the "features" input (float32 [N, D])');
      return { model: 'instance', rate: p.rate, features: inputs.features, std: p.instance_std };
    case 'confusion':
      if (!inputs.zeroshotProbs) throw new NoiseParamError('model "confusion" needs the "zeroshot_probs" input (float32 [N, K])');
      return { model: 'confusion', rate: p.rate, zeroshotProbs: inputs.zeroshotProbs };
  }
}

export default defineNode<NoiseInjectParams>({
  type: 'noise-inject',
  version: '1',
  description: 'Injects synthetic label noise (symmetric, asymmetric map or transition matrix, instance-dependent, CLIP-confusion) and reports the realised noise.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['model'],
    properties: {
      model: { enum: ['symmetric', 'asymmetric', 'instance', 'confusion'], description: 'Noise model (see methods.md).' },
      rate: { type: 'number', minimum: 0, maximum: 1, description: 'Noise rate r in [0, 1]; not used with "transition".' },
      include_true_class: {
        type: 'boolean', default: true,
        description: 'symmetric: draw the new label from all K classes (DivideMix/CLIPCleaner convention, ~r/K of the picks keep their label) or, if false, from the K-1 others (PTNL).',
      },
      map: {
        description: 'asymmetric: "cifar10", "cifar100" (next fine class within the super-class, cyclically) or {from: to} with class names or indices.',
        oneOf: [
          { enum: ['cifar10', 'cifar100'] },
          { type: 'object', additionalProperties: { anyOf: [{ type: 'string' }, { type: 'integer', minimum: 0, maximum: 1_000_000 }] } },
        ],
      },
      transition: {
        type: 'array', items: { type: 'array', items: { type: 'number', minimum: 0, maximum: 1 } },
        description: 'asymmetric: a full K×K row-stochastic matrix; row y gives the distribution of the noisy label of class y.',
      },
      instance_std: { type: 'number', minimum: 0, default: 0.1, description: 'instance: standard deviation of the per-sample flip rates (truncated normal around rate).' },
    },
  },
  ports: (params) => {
    checkNoiseParams(params);
    const features: InputPort = { kind: 'tensor', dtype: 'float32', rank: 2, optional: params.model !== 'instance', description: 'Image features [N, D] (instance model)' };
    const probs: InputPort = { kind: 'tensor', dtype: 'float32', rank: 2, optional: params.model !== 'confusion', description: 'Zero-shot probabilities [N, K] (confusion model)' };
    return {
      inputs: {
        labels: { kind: 'tensor', dtype: 'int32', rank: 1, description: 'Clean labels [N]' },
        classes: { kind: 'json', description: 'Class names (string[])' },
        features,
        zeroshot_probs: probs,
      },
      outputs: {
        noisy_labels: { kind: 'tensor', dtype: 'int32', rank: 1, description: 'Labels after noise [N]' },
        true_labels: { kind: 'tensor', dtype: 'int32', rank: 1, description: 'The input labels, passed through [N]' },
        flip_mask: { kind: 'tensor', dtype: 'bool', rank: 1, description: '1 where the noisy label differs from the true one [N]' },
        report: { kind: 'json', description: 'Requested, expected and realised rates, per-class rates and the realised transition matrix' },
      },
    };
  },
  resources: { cpus: 1, memory: '1G' },
  async run(ctx) {
    const labels = labelsOf(ctx.inputs.labels);
    const classes = requiredClassNames(ctx.inputs, NoiseParamError);
    const spec = noiseSpecOf(ctx.params, {
      features: ctx.inputs.features as Tensor | undefined,
      zeroshotProbs: ctx.inputs.zeroshot_probs as Tensor | undefined,
    });
    const result = injectNoise(labels, classes, spec, ctx.seed);
    const r = result.report;
    ctx.log(`${r.model} noise: ${r.num_flipped} of ${r.num_samples} labels changed (realised ${(100 * r.realised_rate).toFixed(2)}%)`);
    return {
      noisy_labels: tensor('int32', [labels.length], result.noisyLabels),
      true_labels: ctx.inputs.labels as Tensor<'int32'>,
      flip_mask: tensor('bool', [labels.length], result.flipMask),
      report: r,
    };
  },
});

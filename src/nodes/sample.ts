// The `sample` node: Robust UPL's sampling step. Pseudo-labels every sample by the arg-max of the
// given probabilities (zero-shot CLIP) and keeps `shots` random samples per pseudo-class (seeded;
// at random, not the most confident). Its labels and mask feed prompt-tune or train.
import { MethodInputError } from '../methods/linalg.js';
import { sampleShots } from '../methods/prompt/shots.js';
import { pseudoLabels } from '../methods/prompt/upl.js';
import { createRng } from '../random/rng.js';
import { tensor } from '../runtime/tensor.js';
import { defineNode } from '../runtime/types/node-type.js';
import { optionalTensor } from './inputs.js';

export interface SampleParams {
  shots: number;
}

export default defineNode<SampleParams>({
  type: 'sample',
  version: '1',
  description: 'Pseudo-labels by arg-max of probabilities and keeps K random samples per pseudo-class (Robust UPL).',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { shots: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 16, description: 'Samples kept per pseudo-class (all when a class has fewer).' } },
  },
  ports: {
    inputs: {
      probs: { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Probabilities [N, K] (e.g. zero-shot).' },
      mask: { kind: 'tensor', dtype: 'bool', rank: 1, optional: true, description: 'Samples to draw from [N]; default all.' },
      true_labels: { kind: 'tensor', dtype: 'int32', rank: 1, optional: true, description: 'True labels [N], for the pseudo-label accuracy in the report.' },
    },
    outputs: {
      labels: { kind: 'tensor', dtype: 'int32', rank: 1, description: 'Pseudo-labels [N] (arg-max).' },
      mask: { kind: 'tensor', dtype: 'bool', rank: 1, description: 'The sampled subset [N].' },
      report: { kind: 'json', description: 'Samples per pseudo-class and, with true labels, the pseudo-label accuracy on the subset and overall.' },
    },
  },
  async run(ctx) {
    const probs = optionalTensor(ctx.inputs, 'probs', 'float32', 2, MethodInputError)!;
    const [n, k] = probs.shape;
    const mask = optionalTensor(ctx.inputs, 'mask', 'bool', 1, MethodInputError);
    const truth = optionalTensor(ctx.inputs, 'true_labels', 'int32', 1, MethodInputError);
    for (const [name, t] of [['mask', mask], ['true_labels', truth]] as const) {
      if (t && t.shape[0] !== n) throw new MethodInputError(`input "${name}" has ${t.shape[0]} rows, probs have N = ${n}`);
    }
    const labels = pseudoLabels(probs.data, n, k);
    const subset = sampleShots(labels, k, ctx.params.shots, createRng(ctx.seed, 'sample'), mask?.data);
    const perClass = new Array<number>(k).fill(0);
    let hit = 0, size = 0, hitAll = 0;
    for (let i = 0; i < n; i++) {
      if (truth && labels[i] === truth.data[i]) hitAll++;
      if (!subset[i]) continue;
      perClass[labels[i]]++;
      size++;
      if (truth && labels[i] === truth.data[i]) hit++;
    }
    ctx.log(`sample: ${size} samples, ${ctx.params.shots} per pseudo-class at most`);
    return {
      labels: tensor('int32', [n], labels),
      mask: tensor('bool', [n], subset),
      report: { size, per_class: perClass, ...(truth ? { subset_accuracy: size ? hit / size : 0, pseudo_label_accuracy: hitAll / n } : {}) },
    };
  },
});

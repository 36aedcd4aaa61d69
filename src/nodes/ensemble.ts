// The `ensemble` node: the mean of several heads' probabilities (Robust UPL's ensemble of prompts
// from several seeds). Every connected input is one member, under any name.
import { MethodInputError } from '../methods/linalg.js';
import { averageProbs } from '../methods/prompt/upl.js';
import { tensor } from '../runtime/tensor.js';
import { defineNode, type Ports } from '../runtime/types/node-type.js';
import { optionalTensor } from './inputs.js';

function ports(_params: Record<string, never>, connected: ReadonlySet<string>): Ports {
  const inputs: Ports['inputs'] = {};
  for (const name of connected) inputs[name] = { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Probabilities [N, K] of one member.' };
  // With nothing connected yet, a placeholder names what is expected.
  if (connected.size === 0) inputs.probs = { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Probabilities [N, K]; connect two or more under any names.' };
  return { inputs, outputs: { probs: { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Mean probabilities [N, K].' } } };
}

export default defineNode<Record<string, never>>({
  type: 'ensemble',
  version: '1',
  description: 'Averages the probabilities [N, K] of its inputs (any names), e.g. prompt-tune heads of several seeds.',
  paramsSchema: { type: 'object', additionalProperties: false, properties: {} },
  ports,
  async run(ctx) {
    const names = Object.keys(ctx.inputs).sort();
    if (names.length < 2) throw new MethodInputError(`ensemble needs at least two inputs, got ${names.length} (${names.join(', ')})`);
    const members = names.map((name) => {
      const t = optionalTensor(ctx.inputs, name, 'float32', 2, MethodInputError)!;
      return { name, data: t.data, shape: t.shape };
    });
    ctx.log(`ensemble of ${names.join(', ')}`);
    return { probs: tensor('float32', [...members[0].shape], averageProbs(members)) };
  },
});

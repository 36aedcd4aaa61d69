// Checked access to a node's tensor inputs, shared by the node types.
import { isTensor, type DType, type Tensor } from '../runtime/tensor.js';
import type { PortValue } from '../runtime/types/node-type.js';

/**
 * The input `name` checked for dtype and rank; undefined when an optional port is unconnected.
 * `InputError` is the node's own error class, so the message says which node type complained.
 */
export function optionalTensor<D extends DType>(
  inputs: Readonly<Record<string, PortValue>>,
  name: string,
  dtype: D,
  rank: number,
  InputError: new (message: string) => Error,
): Tensor<D> | undefined {
  const v = inputs[name];
  if (v === undefined) return undefined;
  if (!isTensor(v) || v.dtype !== dtype || v.shape.length !== rank) {
    const got = isTensor(v) ? `${v.dtype} [${v.shape.join(', ')}]` : typeof v;
    throw new InputError(`input "${name}" must be a rank-${rank} ${dtype} tensor, got ${got}`);
  }
  return v as Tensor<D>;
}

/** The `classes` input (a non-empty JSON array of class names), or undefined when unconnected. */
export function optionalClassNames(
  inputs: Readonly<Record<string, PortValue>>,
  InputError: new (message: string) => Error,
): string[] | undefined {
  const value = inputs.classes;
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0 || !value.every((c) => typeof c === 'string')) {
    throw new InputError(`input "classes" must be a non-empty JSON array of class names (string[]), got ${JSON.stringify(value).slice(0, 200)}`);
  }
  return value as string[];
}

export function requiredClassNames(inputs: Readonly<Record<string, PortValue>>, InputError: new (message: string) => Error): string[] {
  const names = optionalClassNames(inputs, InputError);
  if (!names) throw new InputError('input "classes" is required');
  return names;
}

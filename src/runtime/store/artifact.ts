// Encoding of port values to stored bytes and back. Tensors become single-tensor safetensors files
// (tensor name "data"), JSON becomes canonical JSON, files stay raw bytes. The encoding depends only
// on the value, so equal values get equal hashes whichever node or port produced them.
import { canonicalJson } from '../keys/hash.js';
import { isTensor, type Json, type Tensor } from '../tensor.js';
import type { OutputPort, PortValue } from '../types/node-type.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';
import type { ArtifactKind, ObjectRef } from './store.js';

export const TENSOR_NAME = 'data';

export class ArtifactTypeError extends Error {
  override name = 'ArtifactTypeError';
}

export interface EncodedArtifact {
  kind: ArtifactKind;
  bytes: Uint8Array;
  dtype?: Tensor['dtype'];
  shape?: number[];
}

/** Encodes `value` for an output port, checking it against the port's declaration. */
export function encodeArtifact(port: string, spec: OutputPort, value: PortValue): EncodedArtifact {
  switch (spec.kind) {
    case 'tensor': {
      if (!isTensor(value)) throw new ArtifactTypeError(`output "${port}" must be a tensor`);
      const allowed = spec.dtype === undefined ? undefined : ([] as string[]).concat(spec.dtype);
      if (allowed && !allowed.includes(value.dtype)) {
        throw new ArtifactTypeError(`output "${port}" has dtype ${value.dtype}, declared ${allowed.join(' | ')}`);
      }
      if (spec.rank !== undefined && value.shape.length !== spec.rank) {
        throw new ArtifactTypeError(`output "${port}" has rank ${value.shape.length}, declared ${spec.rank}`);
      }
      return { kind: 'tensor', bytes: encodeSafetensors({ [TENSOR_NAME]: value }), dtype: value.dtype, shape: [...value.shape] };
    }
    case 'json': {
      if (value instanceof Uint8Array || isTensor(value)) throw new ArtifactTypeError(`output "${port}" must be JSON`);
      return { kind: 'json', bytes: Buffer.from(canonicalJson(value as Json), 'utf8') };
    }
    case 'file': {
      if (!(value instanceof Uint8Array)) throw new ArtifactTypeError(`output "${port}" must be bytes (Uint8Array)`);
      return { kind: 'file', bytes: value };
    }
  }
}

export function decodeArtifact(ref: Pick<ObjectRef, 'kind'>, bytes: Uint8Array): PortValue {
  switch (ref.kind) {
    case 'tensor': {
      const { tensors } = decodeSafetensors(bytes);
      const t = tensors[TENSOR_NAME] ?? Object.values(tensors)[0];
      if (!t) throw new ArtifactTypeError('safetensors object holds no tensor');
      return t;
    }
    case 'json':
      return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as Json;
    case 'file':
      return bytes;
  }
}

// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header naming each tensor's dtype, shape and byte range, then the raw data.
// We write the header with sorted keys and no metadata so identical tensors give identical bytes.
import { bytesOf, bytesPerElement, numel, typedArrayFromBytes, type DType, type Tensor } from '../tensor.js';

const TO_CODE: Record<DType, string> = {
  float32: 'F32', float64: 'F64', float16: 'F16', int8: 'I8', int16: 'I16', int32: 'I32', int64: 'I64',
  uint8: 'U8', uint16: 'U16', uint32: 'U32', bool: 'BOOL',
};
const FROM_CODE: Record<string, DType> = Object.fromEntries(Object.entries(TO_CODE).map(([k, v]) => [v, k as DType]));

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Encodes named tensors; keys are written in sorted order (deterministic bytes). */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, HeaderEntry | Record<string, string>> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    header.__metadata__ = Object.fromEntries(Object.keys(metadata).sort().map((k) => [k, metadata[k]]));
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const size = numel(t.shape) * bytesPerElement(t.dtype);
    header[name] = { dtype: TO_CODE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned (what the reference writer does).
  const headerBytesLen = Buffer.byteLength(json);
  json += ' '.repeat((8 - ((8 + headerBytesLen) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const b = bytesOf(tensors[name]);
    out.set(b, pos);
    pos += b.byteLength;
  }
  return out;
}

export interface DecodedSafetensors {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/** Decodes a safetensors file; tensor data are views into `bytes` where alignment allows. */
export function decodeSafetensors(bytes: Uint8Array): DecodedSafetensors {
  if (bytes.byteLength < 8) throw new SafetensorsError(`file too short for a safetensors header (${bytes.byteLength} bytes)`);
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > bytes.byteLength - 8) {
    throw new SafetensorsError(`header length ${headerLen} exceeds file size ${bytes.byteLength}`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLen).toString('utf8'));
  } catch (e) {
    throw new SafetensorsError(`header is not valid JSON: ${(e as Error).message}`);
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const tensors: Record<string, Tensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const entry = raw as HeaderEntry;
    const dtype = FROM_CODE[entry.dtype];
    if (!dtype) throw new SafetensorsError(`tensor "${name}" has unsupported dtype ${entry.dtype}`);
    const [begin, end] = entry.data_offsets;
    const expected = numel(entry.shape) * bytesPerElement(dtype);
    if (end - begin !== expected || begin < 0 || end > dataLen) {
      throw new SafetensorsError(`tensor "${name}" has byte range [${begin}, ${end}) inconsistent with shape or file size`);
    }
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
    tensors[name] = { dtype, shape: entry.shape, data: typedArrayFromBytes(dtype, view) };
  }
  return { tensors, metadata };
}

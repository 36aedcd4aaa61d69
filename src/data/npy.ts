// NumPy's .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// magic "\x93NUMPY", version, a little-endian header length (2 bytes in v1, 4 in v2/v3), a Python
// dict literal with descr / fortran_order / shape, then the raw C-order data.
import { bytesPerElement, numel, typedArrayFromBytes, type DType, type Tensor } from '../runtime/tensor.js';
import { DatasetError } from './errors.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCR_TO_DTYPE: Record<string, DType> = {
  '<f2': 'float16', '<f4': 'float32', '<f8': 'float64',
  '|i1': 'int8', '<i2': 'int16', '<i4': 'int32', '<i8': 'int64',
  '|u1': 'uint8', '<u2': 'uint16', '<u4': 'uint32', '|b1': 'bool',
};
const DTYPE_TO_DESCR: Partial<Record<DType, string>> = Object.fromEntries(
  Object.entries(DESCR_TO_DTYPE).map(([descr, dtype]) => [dtype, descr]),
);

function normaliseDescr(descr: string): string {
  // One-byte types may be written with any byte-order mark; '=' means native, which is little-endian here.
  if (/^[<>=|]?[iub]1$/.test(descr)) return `|${descr.slice(-2)}`;
  return descr.startsWith('=') ? `<${descr.slice(1)}` : descr;
}

/** Decodes an .npy file into a tensor (a view into `bytes` where alignment allows). */
export function decodeNpy(bytes: Uint8Array, name: string): Tensor {
  if (bytes.byteLength < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new DatasetError(`${name}: not an .npy file (missing the \\x93NUMPY magic)`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new DatasetError(`${name}: .npy format version ${major}.${bytes[7]} is not supported (1.x, 2.x, 3.x are)`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.byteLength) throw new DatasetError(`${name}: truncated .npy header`);
  const header = Buffer.from(bytes.buffer, bytes.byteOffset + headerStart, headerLen).toString(major === 3 ? 'utf8' : 'latin1');

  const descrMatch = /['"]descr['"]\s*:\s*['"]([^'"]+)['"]/.exec(header);
  const fortranMatch = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  const shapeMatch = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descrMatch || !fortranMatch || !shapeMatch) {
    throw new DatasetError(`${name}: malformed .npy header ${JSON.stringify(header.trim())}`);
  }
  if (fortranMatch[1] === 'True') {
    throw new DatasetError(`${name}: Fortran-order arrays are not supported; save with np.ascontiguousarray(a) first`);
  }
  const descr = normaliseDescr(descrMatch[1]);
  const dtype = DESCR_TO_DTYPE[descr];
  if (!dtype) {
    const hint = descr.startsWith('>') ? ' (big-endian; convert with a.astype(a.dtype.newbyteorder("<")))' : '';
    throw new DatasetError(`${name}: dtype '${descrMatch[1]}' is not supported${hint}; supported: ${Object.keys(DESCR_TO_DTYPE).join(', ')}`);
  }
  const shape = shapeMatch[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new DatasetError(`${name}: invalid shape (${shapeMatch[1]})`);
  const size = numel(shape) * bytesPerElement(dtype);
  if (bytes.byteLength - dataStart !== size) {
    throw new DatasetError(`${name}: shape [${shape.join(', ')}] of ${descr} needs ${size} data bytes but the file has ${bytes.byteLength - dataStart}`);
  }
  return { dtype, shape, data: typedArrayFromBytes(dtype, bytes.subarray(dataStart)) };
}

/** Encodes a tensor as an .npy v1.0 file (C order, header padded to 64 bytes as NumPy does). */
export function encodeNpy(t: Tensor): Uint8Array {
  const descr = DTYPE_TO_DESCR[t.dtype];
  if (!descr) throw new DatasetError(`dtype ${t.dtype} has no .npy encoding`);
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const data = t.data as ArrayBufferView;
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

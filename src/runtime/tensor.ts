// In-memory tensors: a dtype, a shape and a flat row-major typed array.
// Kept deliberately small: nodes do their math on the typed arrays directly.

export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'bool';

export interface TypedArrayByDType {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array; // raw IEEE half bits
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  bool: Uint8Array; // 0 or 1
}

export type TypedArrayOf<D extends DType> = TypedArrayByDType[D];

export interface Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: TypedArrayOf<D>;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const DTYPES: readonly DType[] = [
  'float32', 'float64', 'float16', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'bool',
];

const BYTES: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, int8: 1, int16: 2, int32: 4, int64: 8, uint8: 1, uint16: 2, uint32: 4, bool: 1,
};

export function bytesPerElement(dtype: DType): number {
  return BYTES[dtype];
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

type ArrayCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): ArrayLike<unknown>; new (length: number): ArrayLike<unknown> };

const CTORS: Record<DType, ArrayCtor> = {
  float32: Float32Array, float64: Float64Array, float16: Uint16Array, int8: Int8Array, int16: Int16Array,
  int32: Int32Array, int64: BigInt64Array as unknown as ArrayCtor, uint8: Uint8Array, uint16: Uint16Array,
  uint32: Uint32Array, bool: Uint8Array,
};

/** Allocates a zero-filled tensor. */
export function zeros<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
  return { dtype, shape: [...shape], data: new CTORS[dtype](numel(shape)) as TypedArrayOf<D> };
}

/** Wraps existing data, checking that its length matches the shape. */
export function tensor<D extends DType>(dtype: D, shape: readonly number[], data: TypedArrayOf<D>): Tensor<D> {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`invalid tensor shape [${shape.join(', ')}]`);
  }
  if (data.length !== numel(shape)) {
    throw new RangeError(`tensor data has ${data.length} elements but shape [${shape.join(', ')}] needs ${numel(shape)}`);
  }
  return { dtype, shape: [...shape], data };
}

/** A view (no copy) of `bytes` as a typed array of `dtype`; copies only when unaligned. */
export function typedArrayFromBytes<D extends DType>(dtype: D, bytes: Uint8Array): TypedArrayOf<D> {
  const size = BYTES[dtype];
  if (bytes.byteLength % size !== 0) throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${dtype}`);
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return new CTORS[dtype](aligned.buffer, aligned.byteOffset, aligned.byteLength / size) as TypedArrayOf<D>;
}

export function bytesOf(t: Tensor): Uint8Array {
  const d = t.data as ArrayBufferView;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

export function isTensor(value: unknown): value is Tensor {
  return (
    typeof value === 'object' && value !== null && 'dtype' in value && 'shape' in value && 'data' in value &&
    ArrayBuffer.isView((value as { data: unknown }).data)
  );
}

/** Row `i` of a 2-D tensor as a subarray view. */
export function row(t: Tensor<'float32'>, i: number): Float32Array {
  const width = t.shape[1];
  return t.data.subarray(i * width, (i + 1) * width);
}

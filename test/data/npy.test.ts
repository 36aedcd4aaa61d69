import { describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy } from '../../src/data/npy.js';
import { tensor } from '../../src/runtime/tensor.js';

/** A hand-assembled .npy file: version, header dict text (padded to `align`) and data. */
function npy(major: number, dict: string, data: Uint8Array, align = 16): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  let header = dict;
  header += ' '.repeat((align - ((prefix + header.length + 1) % align)) % align) + '\n';
  const out = new Uint8Array(prefix + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), prefix);
  out.set(data, prefix + header.length);
  return out;
}

const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('decodeNpy', () => {
  it('reads a v1 <f4 matrix', () => {
    const values = Float32Array.from([1.5, -2, 0.25, 3, 4, 5]);
    const t = decodeNpy(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", bytes(values)), 'a.npy');
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(t.data as Float32Array)).toEqual([1.5, -2, 0.25, 3, 4, 5]);
  });

  it('reads v2 headers and every supported dtype', () => {
    const cases = [
      { descr: '<f8', dtype: 'float64', data: bytes(Float64Array.from([0.1, -7])) },
      { descr: '<i4', dtype: 'int32', data: bytes(Int32Array.from([-3, 2147483647])) },
      { descr: '<i8', dtype: 'int64', data: bytes(BigInt64Array.from([5n, -1n])) },
      { descr: '|u1', dtype: 'uint8', data: Uint8Array.from([0, 255]) },
      { descr: '<u1', dtype: 'uint8', data: Uint8Array.from([7, 8]) },
    ];
    for (const c of cases) {
      const t = decodeNpy(npy(2, `{'descr': '${c.descr}', 'fortran_order': False, 'shape': (2,), }`, c.data), c.descr);
      expect(t.dtype).toBe(c.dtype);
      expect(t.shape).toEqual([2]);
      expect(bytes(t.data as ArrayBufferView)).toEqual(c.data);
    }
  });

  it('reads a scalar shape ()', () => {
    const t = decodeNpy(npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (), }", bytes(Int32Array.from([42]))), 's');
    expect(t.shape).toEqual([]);
    expect(t.data[0]).toBe(42);
  });

  it('refuses Fortran order, big-endian data, bad magic and a size mismatch', () => {
    const data = bytes(Float32Array.from([1, 2, 3, 4]));
    expect(() => decodeNpy(npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data), 'f.npy')).toThrow(
      /f\.npy: Fortran-order arrays are not supported/,
    );
    expect(() => decodeNpy(npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", data), 'b.npy')).toThrow(/big-endian/);
    expect(() => decodeNpy(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", data), 'n.npy')).toThrow(/needs 20 data bytes.*has 16/);
    expect(() => decodeNpy(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), 'x.npy')).toThrow(/not an \.npy file/);
    expect(() => decodeNpy(npy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", data), 'c.npy')).toThrow(/'<c8' is not supported/);
  });
});

describe('encodeNpy', () => {
  it('writes what NumPy writes: 64-byte aligned v1 header, round-trips', () => {
    const t = tensor('float32', [2, 2], Float32Array.from([1, 2, 3, 4]));
    const file = encodeNpy(t);
    expect(Buffer.from(file.subarray(10, 60)).toString('latin1')).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': ");
    expect((10 + new DataView(file.buffer).getUint16(8, true)) % 64).toBe(0);
    const back = decodeNpy(file, 'round');
    expect(back.shape).toEqual([2, 2]);
    expect(Array.from(back.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(decodeNpy(encodeNpy(tensor('int64', [3], BigInt64Array.from([1n, 2n, 3n]))), 'r').shape).toEqual([3]);
  });
});

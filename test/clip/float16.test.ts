import { describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16, fromHalfBits, toHalfBits } from '../../src/clip/float16.js';

describe('float16 conversion', () => {
  it('encodes known values (round to nearest, ties to even)', () => {
    const cases: Array<[number, number]> = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [0.5, 0x3800], [-2, 0xc000], [65504, 0x7bff],
      [65520, 0x7c00], // halfway between 65504 and 65536: ties to even overflows to Infinity
      [1 / 3, 0x3555], [0.1, 0x2e66], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -25, 0x0001],
      [2 ** -14, 0x0400], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [Infinity, 0x7c00], [-Infinity, 0xfc00], [1e6, 0x7c00],
    ];
    for (const [value, bits] of cases) expect(toHalfBits(value), `${value}`).toBe(bits);
    expect(toHalfBits(NaN) & 0x7c00).toBe(0x7c00);
    expect(Number.isNaN(fromHalfBits(0x7e00))).toBe(true);
  });

  it('round-trips every finite half exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const finite = all.filter((b) => (b & 0x7c00) !== 0x7c00);
    const back = float32ToFloat16(float16ToFloat32(finite));
    expect(Array.from(back)).toEqual(Array.from(finite));
    expect(fromHalfBits(0x3c01)).toBe(1 + 2 ** -10);
    expect(fromHalfBits(0x0001)).toBe(2 ** -24);
  });
});

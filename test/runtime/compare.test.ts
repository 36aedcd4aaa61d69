import { describe, expect, it } from 'vitest';
import { compareJson, compareTensors, compareValues, describeComparison } from '../../src/runtime/results/compare.js';
import { tensor } from '../../src/runtime/tensor.js';

const f32 = (...v: number[]) => tensor('float32', [v.length], Float32Array.from(v));

describe('output comparison within tolerance', () => {
  it('floating-point tensors: identical, within |a − b| ≤ atol + rtol·|b|, or different', () => {
    expect(compareTensors(f32(1, 2), f32(1, 2))).toEqual({ verdict: 'identical' });
    const close = compareTensors(f32(1, 2), f32(1 + 2.4e-7, 2));
    expect(close.verdict).toBe('within-tolerance');
    expect(describeComparison(close)).toMatch(/^equal within tolerance \(max abs diff 2\.4e-7\)$/);
    expect(compareTensors(f32(1000, 0), f32(1000.05, 0)).verdict).toBe('within-tolerance'); // relative
    const far = compareTensors(f32(1, 2, 3), f32(1, 2.1, 3));
    expect(far).toMatchObject({ verdict: 'different', why: '1 of 3 values outside tolerance' });
    expect(describeComparison(far)).toMatch(/^different \(1 of 3 values outside tolerance, max abs diff 0\.10\)$/);
    expect(compareTensors(f32(Number.NaN), f32(Number.NaN)).verdict).toBe('identical');
    expect(compareTensors(f32(Number.NaN), f32(1)).verdict).toBe('different');
    expect(compareTensors(f32(1, 2), tensor('float32', [1, 2], Float32Array.from([1, 2])))).toMatchObject({ verdict: 'different', why: 'shape [2] vs [1, 2]' });
    expect(compareTensors(f32(1), tensor('float64', [1], Float64Array.from([1])))).toMatchObject({ verdict: 'different', why: 'dtype float32 vs float64' });
  });

  it('integer and boolean tensors must be identical', () => {
    const a = tensor('int32', [3], Int32Array.from([1, 2, 3]));
    expect(compareTensors(a, tensor('int32', [3], Int32Array.from([1, 2, 3])))).toEqual({ verdict: 'identical' });
    expect(compareTensors(a, tensor('int32', [3], Int32Array.from([1, 2, 4])))).toMatchObject({ verdict: 'different', why: '1 of 3 values differ' });
  });

  it('JSON: same structure and strings, numbers within tolerance', () => {
    expect(compareJson({ loss: [0.5, 0.25], head: 'linear' }, { head: 'linear', loss: [0.5 + 1e-7, 0.25] }).verdict).toBe('within-tolerance');
    expect(compareJson({ backend: 'wasm' }, { backend: 'tfjs-node' })).toMatchObject({ verdict: 'different', why: 'backend: "wasm" vs "tfjs-node"' });
    expect(compareJson({ a: [1, 2] }, { a: [1] })).toMatchObject({ verdict: 'different', why: 'a: length 2 vs 1' });
    expect(compareJson({ a: 1 }, { b: 1 })).toMatchObject({ verdict: 'different', why: 'a: only on one side' });
    expect(compareValues(f32(1), { a: 1 })).toMatchObject({ verdict: 'different' });
    expect(compareValues(Uint8Array.from([1]), Uint8Array.from([1]))).toEqual({ verdict: 'identical' });
  });
});

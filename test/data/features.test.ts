import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { featureFiles, readFeatures, readFeatureSplit, toFloat32Matrix, toLabels } from '../../src/data/features.js';
import { encodeNpy } from '../../src/data/npy.js';
import { encodeSafetensors } from '../../src/runtime/store/safetensors.js';
import { tensor } from '../../src/runtime/tensor.js';
import { removeTemp, tempDir } from '../helpers/temp.js';

afterAll(removeTemp);

const dir = tempDir('sieve-features-');
const feats = tensor('float64', [3, 2], Float64Array.from([0.5, 1, -1, 2, 3, 0.25]));
const labels = tensor('int64', [3], BigInt64Array.from([2n, 0n, 1n]));
writeFileSync(join(dir, 'train.npy'), encodeNpy(feats));
writeFileSync(join(dir, 'train_labels.npy'), encodeNpy(labels));
writeFileSync(
  join(dir, 'test.safetensors'),
  encodeSafetensors(
    { emb: tensor('float32', [2, 2], Float32Array.from([1, 2, 3, 4])), y: tensor('uint8', [2], Uint8Array.from([1, 1])) },
    { classes: JSON.stringify(['a', 'b', 'c']) },
  ),
);

describe('features', () => {
  it('reads .npy features with .npy labels as float32 / int32', async () => {
    const split = await readFeatureSplit({ file: join(dir, 'train.npy'), labels: join(dir, 'train_labels.npy') });
    expect(split.features.dtype).toBe('float32');
    expect(split.features.shape).toEqual([3, 2]);
    expect(Array.from(split.features.data)).toEqual([0.5, 1, -1, 2, 3, 0.25]);
    expect(Array.from(split.labels)).toEqual([2, 0, 1]);
  });

  it('reads named tensors and class names from a .safetensors file', async () => {
    const ds = await readFeatures({
      train: { file: join(dir, 'train.npy'), labels: join(dir, 'train_labels.npy') },
      test: { file: join(dir, 'test.safetensors'), featuresKey: 'emb', labels: 'y' },
    });
    expect(ds.classes).toEqual(['0', '1', '2']); // the train file (npy) carries no names
    expect(Array.from(ds.test!.labels)).toEqual([1, 1]);
    const named = await readFeatures({ train: { file: join(dir, 'test.safetensors'), featuresKey: 'emb', labels: 'y' } });
    expect(named.classes).toEqual(['a', 'b', 'c']);
    expect(named.test).toBeUndefined();
    const given = await readFeatures({ train: { file: join(dir, 'test.safetensors'), featuresKey: 'emb', labels: 'y' }, classes: ['x', 'y'] });
    expect(given.classes).toEqual(['x', 'y']);
  });

  it('lists the files it reads', () => {
    expect(featureFiles({ file: '/a/f.npy', labels: '/a/l.npy' })).toEqual(['/a/f.npy', '/a/l.npy']);
    expect(featureFiles({ file: '/a/f.safetensors', labels: 'labels' })).toEqual(['/a/f.safetensors']);
  });

  it('converts float16 features', () => {
    // 0x3c00 = 1, 0xc000 = -2, 0x3555 ≈ 0.33325, 0x0001 = 2^-24 (subnormal)
    const t = toFloat32Matrix(tensor('float16', [2, 2], Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x0001])), 'h');
    expect(Array.from(t.data)).toEqual([1, -2, Math.fround(0.333251953125), Math.fround(2 ** -24)]);
  });

  it('gives clear errors', async () => {
    expect(() => toLabels(tensor('float32', [1], Float32Array.from([1])), 'l.npy')).toThrow(/l\.npy: labels must be an integer array/);
    expect(() => toLabels(tensor('int32', [1], Int32Array.from([-1])), 'l')).toThrow(/label -1/);
    expect(() => toFloat32Matrix(tensor('float32', [4], new Float32Array(4)), 'f')).toThrow(/rank 2/);
    await expect(readFeatureSplit({ file: join(dir, 'train.npy') })).rejects.toThrow(/labels must be an \.npy file too/);
    await expect(readFeatureSplit({ file: join(dir, 'test.safetensors') })).rejects.toThrow(/no tensor "features" \(it has emb, y\)/);
    await expect(readFeatureSplit({ file: join(dir, 'train.npy'), labels: join(dir, 'missing.npy') })).rejects.toThrow(/cannot read features file/);
    await expect(readFeatures({ train: { file: join(dir, 'test.safetensors'), featuresKey: 'emb', labels: 'y' }, classes: ['only'] })).rejects.toThrow(
      /labels go up to 1 but only 1 class names/,
    );
    writeFileSync(join(dir, 'short_labels.npy'), encodeNpy(tensor('int32', [2], Int32Array.from([0, 1]))));
    await expect(readFeatureSplit({ file: join(dir, 'train.npy'), labels: join(dir, 'short_labels.npy') })).rejects.toThrow(/3 feature rows but 2 labels/);
  });
});

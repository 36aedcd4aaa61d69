import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeIdx, FASHION_MNIST_CLASSES, mnistFiles, readMnist } from '../../src/data/idx.js';
import { removeTemp, tempDir } from '../helpers/temp.js';

afterAll(removeTemp);

const MNIST_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data/mnist');

/** An IDX ubyte file with the given shape and data. */
function idx(shape: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  out[2] = 0x08;
  out[3] = shape.length;
  const view = new DataView(out.buffer);
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * shape.length);
  return out;
}

describe('decodeIdx', () => {
  it('decodes plain and gzipped files', () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    for (const bytes of [idx([2, 3, 4], data), new Uint8Array(gzipSync(idx([2, 3, 4], data)))]) {
      const a = decodeIdx(bytes, 'x');
      expect(a.shape).toEqual([2, 3, 4]);
      expect(Array.from(a.data)).toEqual(Array.from(data));
    }
  });

  it('rejects other types and inconsistent sizes', () => {
    const wrongType = idx([2], new Uint8Array(2));
    wrongType[2] = 0x0d; // float
    expect(() => decodeIdx(wrongType, 'f.idx')).toThrow(/f\.idx.*0xd.*not supported/);
    expect(() => decodeIdx(idx([5], new Uint8Array(4)), 'short')).toThrow(/needs 5 bytes.*has 4/);
    expect(() => decodeIdx(Uint8Array.from([1, 2, 3, 4]), 'junk')).toThrow(/not an IDX file/);
  });
});

describe('readMnist on tiny files', () => {
  it('reads both splits, gzipped or not, with the dotted names too', async () => {
    const dir = tempDir('sieve-idx-');
    const images = Uint8Array.from({ length: 3 * 28 * 28 }, (_, i) => i % 251);
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx([3, 28, 28], images)));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx([3], Uint8Array.from([9, 0, 4])));
    writeFileSync(join(dir, 't10k-images.idx3-ubyte'), idx([1, 28, 28], images.subarray(0, 784)));
    writeFileSync(join(dir, 't10k-labels.idx1-ubyte'), idx([1], Uint8Array.from([2])));
    const ds = await readMnist('fashion-mnist', dir);
    expect(ds.classes).toEqual([...FASHION_MNIST_CLASSES]);
    expect(ds.train.images.shape).toEqual([3, 28, 28, 1]);
    expect(Array.from(ds.train.images.data.subarray(780, 790))).toEqual(Array.from(images.subarray(780, 790)));
    expect(Array.from(ds.train.labels)).toEqual([9, 0, 4]);
    expect(Array.from(ds.test!.labels)).toEqual([2]);
    expect(mnistFiles('fashion-mnist', dir)).toHaveLength(4);
  });

  it('refuses a labels/images count mismatch and a lone images file', async () => {
    const dir = tempDir('sieve-idx-bad-');
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), idx([2, 28, 28], new Uint8Array(2 * 784)));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx([3], new Uint8Array(3)));
    await expect(readMnist('mnist', dir)).rejects.toThrow(/3 labels.*2 images/);
    const lone = tempDir('sieve-idx-lone-');
    writeFileSync(join(lone, 't10k-images-idx3-ubyte'), idx([1, 28, 28], new Uint8Array(784)));
    await expect(readMnist('mnist', lone)).rejects.toThrow(/t10k images but not the matching labels/);
  });
});

describe.skipIf(!existsSync(MNIST_DIR))(`readMnist on the real MNIST test split (skipped: ${MNIST_DIR} absent)`, () => {
  it('reads the 10000 t10k images as the single split', async () => {
    const ds = await readMnist('mnist', MNIST_DIR);
    expect(ds.test).toBeUndefined();
    expect(ds.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(ds.train.images.shape).toEqual([10000, 28, 28, 1]);
    expect(Array.from(ds.train.labels.subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    const counts = new Array(10).fill(0);
    for (const l of ds.train.labels) counts[l]++;
    expect(counts).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    // Digits are centred: the first image's border is blank and its centre is inked.
    const first = ds.train.images.data.subarray(0, 784);
    expect(first[0] + first[27] + first[27 * 28] + first[783]).toBe(0);
    expect(Math.max(...first)).toBeGreaterThan(200);
    // Sums computed independently with Python's gzip module over the raw file.
    expect(first.reduce((a, b) => a + b, 0)).toBe(18454);
    expect(ds.train.images.data.reduce((a, b) => a + b, 0)).toBe(264923200);
  });
});

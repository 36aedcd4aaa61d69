import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { CIFAR100_COARSE_CLASSES, CIFAR100_FINE_CLASSES, CIFAR10_CLASSES } from '../../src/data/cifar-classes.js';
import { cifarFiles, decodeCifarRecords, readCifar } from '../../src/data/cifar.js';
import { DatasetError } from '../../src/data/errors.js';
import { removeTemp, tempDir } from '../helpers/temp.js';

afterAll(removeTemp);

/** A record whose pixel (r, c) has R = seed + r, G = seed + c, B = seed + r + c (mod 256). */
function record(labels: number[], seed: number): Uint8Array {
  const rec = new Uint8Array(labels.length + 3072);
  rec.set(labels);
  for (let r = 0; r < 32; r++) {
    for (let c = 0; c < 32; c++) {
      const p = r * 32 + c;
      rec[labels.length + p] = (seed + r) & 255;
      rec[labels.length + 1024 + p] = (seed + c) & 255;
      rec[labels.length + 2048 + p] = (seed + r + c) & 255;
    }
  }
  return rec;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Files of a tiny CIFAR-10: batch b holds 2 records with labels (b, b+1) % 10 and seeds 10b, 10b+1. */
function cifar10Files(): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (let b = 1; b <= 5; b++) files[`data_batch_${b}.bin`] = concat([record([b % 10], 10 * b), record([(b + 1) % 10], 10 * b + 1)]);
  files['test_batch.bin'] = concat([record([9], 200), record([0], 201), record([3], 202)]);
  files['batches.meta.txt'] = Buffer.from(CIFAR10_CLASSES.join('\n') + '\n\n');
  return files;
}

function cifar100Files(): Record<string, Uint8Array> {
  return {
    'train.bin': concat([record([4, 30], 1), record([19, 99], 2)]), // coarse, fine
    'test.bin': concat([record([0, 4], 3)]),
    'fine_label_names.txt': Buffer.from(CIFAR100_FINE_CLASSES.join('\n') + '\n'),
    'coarse_label_names.txt': Buffer.from(CIFAR100_COARSE_CLASSES.join('\n') + '\n'),
  };
}

function writeDir(root: string, files: Record<string, Uint8Array>): void {
  mkdirSync(root, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(root, name), bytes);
}

async function writeTarGz(path: string, folder: string, files: Record<string, Uint8Array>): Promise<void> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((res) => p.on('end', () => res()));
  p.entry({ name: `${folder}/`, type: 'directory' });
  p.entry({ name: `${folder}/readme.html` }, Buffer.from('<html></html>'));
  for (const [name, bytes] of Object.entries(files)) p.entry({ name: `${folder}/${name}` }, Buffer.from(bytes));
  p.finalize();
  await done;
  writeFileSync(path, gzipSync(Buffer.concat(chunks)));
}

function expectPixel(images: Uint8Array, n: number, r: number, c: number, seed: number): void {
  const at = n * 3072 + (r * 32 + c) * 3;
  expect([images[at], images[at + 1], images[at + 2]]).toEqual([(seed + r) & 255, (seed + c) & 255, (seed + r + c) & 255]);
}

describe('decodeCifarRecords', () => {
  it('transposes planar RGB to NHWC', () => {
    const split = decodeCifarRecords([{ name: 'x', bytes: concat([record([3], 7), record([1], 50)]) }], 1, 0, 10);
    expect(split.images.shape).toEqual([2, 32, 32, 3]);
    expect(Array.from(split.labels)).toEqual([3, 1]);
    for (const [r, c] of [[0, 0], [0, 31], [5, 17], [31, 31]]) {
      expectPixel(split.images.data, 0, r, c, 7);
      expectPixel(split.images.data, 1, r, c, 50);
    }
  });

  it('rejects truncated files and out-of-range labels', () => {
    expect(() => decodeCifarRecords([{ name: 'short.bin', bytes: new Uint8Array(3072) }], 1, 0, 10)).toThrow(/short\.bin.*3073-byte/);
    expect(() => decodeCifarRecords([{ name: 'bad.bin', bytes: record([12], 0) }], 1, 0, 10)).toThrow(/label 12.*10 classes/);
  });
});

describe('readCifar (CIFAR-10)', () => {
  const root = tempDir('sieve-cifar10-');
  writeDir(join(root, 'cifar-10-batches-bin'), cifar10Files());

  const check = (ds: Awaited<ReturnType<typeof readCifar>>): void => {
    expect(ds.classes).toEqual([...CIFAR10_CLASSES]);
    expect(ds.train.images.shape).toEqual([10, 32, 32, 3]);
    expect(Array.from(ds.train.labels)).toEqual([1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
    expectPixel(ds.train.images.data, 0, 3, 4, 10); // batch 1, first record
    expectPixel(ds.train.images.data, 9, 31, 0, 51); // batch 5, second record
    expect(ds.test!.images.shape).toEqual([3, 32, 32, 3]);
    expect(Array.from(ds.test!.labels)).toEqual([9, 0, 3]);
    expectPixel(ds.test!.images.data, 2, 10, 20, 202);
  };

  it('reads the extracted folder or its parent', async () => {
    check(await readCifar('cifar10', join(root, 'cifar-10-batches-bin')));
    check(await readCifar('cifar10', root));
    expect(cifarFiles('cifar10', root)).toHaveLength(7);
  });

  it('reads the .tar.gz directly', async () => {
    const archive = join(root, 'cifar-10-binary.tar.gz');
    await writeTarGz(archive, 'cifar-10-batches-bin', cifar10Files());
    check(await readCifar('cifar10', archive));
    expect(cifarFiles('cifar10', archive)).toEqual([archive]);
  });

  it('says what is missing', async () => {
    const empty = tempDir('sieve-cifar-empty-');
    await expect(readCifar('cifar10', empty)).rejects.toThrow(/data_batch_1\.bin/);
    const partial = join(root, 'partial.tar.gz');
    const files = cifar10Files();
    delete files['test_batch.bin'];
    await writeTarGz(partial, 'cifar-10-batches-bin', files);
    await expect(readCifar('cifar10', partial)).rejects.toThrow(DatasetError);
    await expect(readCifar('cifar10', partial)).rejects.toThrow(/missing test_batch\.bin/);
  });
});

describe('readCifar (CIFAR-100)', () => {
  const root = tempDir('sieve-cifar100-');
  writeDir(join(root, 'cifar-100-binary'), cifar100Files());

  it('offers fine and coarse labels', async () => {
    const fine = await readCifar('cifar100', root, { label: 'fine' });
    expect(fine.classes).toHaveLength(100);
    expect(fine.classes[30]).toBe('dolphin');
    expect(Array.from(fine.train.labels)).toEqual([30, 99]);
    expect(Array.from(fine.test!.labels)).toEqual([4]);
    expectPixel(fine.train.images.data, 1, 12, 13, 2);
    const coarse = await readCifar('cifar100', root, { label: 'coarse' });
    expect(coarse.classes).toEqual([...CIFAR100_COARSE_CLASSES]);
    expect(Array.from(coarse.train.labels)).toEqual([4, 19]);
  });

  it('reads the .tar.gz directly', async () => {
    const archive = join(root, 'cifar-100-binary.tar.gz');
    await writeTarGz(archive, 'cifar-100-binary', cifar100Files());
    const ds = await readCifar('cifar100', archive, { label: 'coarse' });
    expect(Array.from(ds.test!.labels)).toEqual([0]);
    expectPixel(ds.test!.images.data, 0, 31, 31, 3);
  });

  it('falls back to the standard names when the names file is absent', async () => {
    const dir = tempDir('sieve-cifar100-nonames-');
    const files = cifar100Files();
    delete files['fine_label_names.txt'];
    writeDir(dir, files);
    const ds = await readCifar('cifar100', dir);
    expect(ds.classes).toEqual([...CIFAR100_FINE_CLASSES]);
    expect(cifarFiles('cifar100', dir, 'fine')).toHaveLength(2);
  });
});

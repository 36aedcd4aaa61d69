import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { listImageFolder } from '../../src/data/image-folder.js';
import { decodeImage, decodeImages } from '../../src/data/images.js';
import { removeTemp, tempDir } from '../helpers/temp.js';

afterAll(removeTemp);

type Rgb = [number, number, number];

async function solid(file: string, colour: Rgb, width = 16, height = 16): Promise<void> {
  const img = sharp({ create: { width, height, channels: 3, background: { r: colour[0], g: colour[1], b: colour[2] } } });
  const ext = file.split('.').pop();
  const out = ext === 'png' ? img.png() : ext === 'webp' ? img.webp({ lossless: true }) : img.jpeg({ quality: 95 });
  await out.toFile(file);
}

/** A 60×20 PNG made of three vertical 20-px bands: red, green, blue. */
async function bands(file: string): Promise<void> {
  const raw = new Uint8Array(60 * 20 * 3);
  for (let y = 0; y < 20; y++) for (let x = 0; x < 60; x++) raw[(y * 60 + x) * 3 + Math.floor(x / 20)] = 255;
  await sharp(raw, { raw: { width: 60, height: 20, channels: 3 } }).png().toFile(file);
}

function pixel(data: Uint8Array, n: number, size: number, y: number, x: number): number[] {
  const at = n * size * size * 3 + (y * size + x) * 3;
  return [data[at], data[at + 1], data[at + 2]];
}

function expectClose(actual: number[], expected: number[], tol: number): void {
  actual.forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThanOrEqual(tol));
}

describe('decodeImage', () => {
  it('keeps the size by default; resizes the shorter side and centre-crops with resize', async () => {
    const dir = tempDir('sieve-img-');
    await bands(join(dir, 'bands.png'));
    const own = await decodeImage(join(dir, 'bands.png'));
    expect([own.width, own.height, own.data.length]).toEqual([60, 20, 60 * 20 * 3]);
    expect(pixel(own.data, 0, 60, 10, 30).slice(0, 3)).toEqual([0, 255, 0]);
    const { data } = await decodeImage(join(dir, 'bands.png'), { resize: 10 });
    expect(data.length).toBe(10 * 10 * 3);
    // 60×20 → 30×10, centre crop keeps the green band only (bicubic bleeds a little at its edges).
    for (const [y, x] of [[0, 3], [5, 5], [9, 6]]) expectClose(pixel(data, 0, 10, y, x), [0, 255, 0], 2);
    for (const [y, x] of [[0, 0], [9, 9]]) expectClose(pixel(data, 0, 10, y, x), [0, 255, 0], 40);
  });

  it('turns greyscale and RGBA into 3 channels', async () => {
    const dir = tempDir('sieve-img-grey-');
    await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 90, g: 90, b: 90 } } }).greyscale().png().toFile(join(dir, 'g.png'));
    await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 10, g: 20, b: 30, alpha: 0.5 } } }).png().toFile(join(dir, 'a.png'));
    const grey = (await decodeImage(join(dir, 'g.png'), { resize: 4 })).data;
    expect(grey.length).toBe(4 * 4 * 3);
    expectClose(pixel(grey, 0, 4, 2, 2), [90, 90, 90], 1);
    expectClose(pixel((await decodeImage(join(dir, 'a.png'), { resize: 4 })).data, 0, 4, 1, 1), [10, 20, 30], 1);
  });

  it('names the file it cannot decode', async () => {
    const dir = tempDir('sieve-img-bad-');
    writeFileSync(join(dir, 'broken.png'), 'not an image');
    await expect(decodeImage(join(dir, 'broken.png'), { resize: 4 })).rejects.toThrow(/broken\.png/);
  });
});

describe('image folder', () => {
  const colours: Record<string, Rgb> = { cat: [200, 30, 30], dog: [30, 200, 30], bird: [30, 30, 200] };

  it('lists sorted classes and decodes PNG, JPEG and WebP in order', async () => {
    const root = tempDir('sieve-folder-');
    const formats = ['png', 'jpg', 'webp'];
    for (const [name, colour] of Object.entries(colours)) {
      mkdirSync(join(root, name, 'nested'), { recursive: true });
      for (const [i, ext] of formats.entries()) await solid(join(root, name, `${i}.${ext}`), colour, 20 + i, 16);
      await solid(join(root, name, 'nested', 'z.png'), colour);
      writeFileSync(join(root, name, 'notes.txt'), 'ignored');
    }
    const layout = await listImageFolder(root);
    expect(layout.classes).toEqual(['bird', 'cat', 'dog']);
    expect(layout.test).toBeUndefined();
    expect(Array.from(layout.train.labels)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    expect(layout.train.files[3]).toBe(join(root, 'bird', 'nested', 'z.png'));

    let lastProgress = 0;
    const images = await decodeImages(layout.train.files, { resize: 8, concurrency: 3, onProgress: (done) => (lastProgress = done) });
    expect(images.shape).toEqual([12, 8, 8, 3]);
    expect(lastProgress).toBe(12);
    for (let n = 0; n < 12; n++) {
      const colour = colours[layout.classes[layout.train.labels[n]]];
      expectClose(pixel(images.data, n, 8, 4, 4), colour, 6); // JPEG is lossy
    }
  });

  it('recognises train/ and test/ split folders', async () => {
    const root = tempDir('sieve-folder-split-');
    for (const split of ['train', 'test']) {
      for (const name of ['b', 'a']) {
        mkdirSync(join(root, split, name), { recursive: true });
        await solid(join(root, split, name, 'x.png'), [1, 2, 3]);
      }
    }
    mkdirSync(join(root, 'train', 'c'));
    await solid(join(root, 'train', 'c', 'y.png'), [1, 2, 3]);
    const layout = await listImageFolder(root);
    expect(layout.classes).toEqual(['a', 'b', 'c']);
    expect(Array.from(layout.train.labels)).toEqual([0, 1, 2]);
    expect(Array.from(layout.test!.labels)).toEqual([0, 1]);
  });

  it('refuses test classes unknown to train, and folders without classes', async () => {
    const root = tempDir('sieve-folder-bad-');
    mkdirSync(join(root, 'train', 'a'), { recursive: true });
    mkdirSync(join(root, 'val', 'zebra'), { recursive: true });
    await solid(join(root, 'train', 'a', 'x.png'), [0, 0, 0]);
    await expect(listImageFolder(root)).rejects.toThrow(/zebra/);
    const flat = tempDir('sieve-folder-flat-');
    await solid(join(flat, 'x.png'), [0, 0, 0]);
    await expect(listImageFolder(flat)).rejects.toThrow(/no class sub-folders/);
  });

  it('stops on abort', async () => {
    const root = tempDir('sieve-folder-abort-');
    await solid(join(root, 'x.png'), [0, 0, 0]);
    const controller = new AbortController();
    controller.abort();
    await expect(decodeImages([join(root, 'x.png')], { resize: 4, signal: controller.signal })).rejects.toThrow();
  });
});

// Pixels against Pillow: the resampler on synthetic images and the decode + resize + crop of
// encoded files, compared with reference outputs made by Pillow (scripts/reference/pillow_fixtures.py,
// committed under test/fixtures/pillow; no Python needed here).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLIP_PREPROCESS, ImagePreprocessor, cropOffsets, normalizationTable, resizedSize } from '../../src/clip/preprocess.js';
import { PreprocessPool } from '../../src/clip/preprocess-pool.js';
import { Resampler, resampleCoefficients, type PillowFilter } from '../../src/clip/resample.js';
import { decodeRgb, readHeader } from '../../src/data/decode.js';
import { decodeImages } from '../../src/data/images.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/pillow');

interface ResizeCase {
  width: number;
  height: number;
  channels: number;
  seed: number;
  outWidth: number;
  outHeight: number;
  filter: PillowFilter;
  sha256: string;
  pixels?: string;
}

interface ImageCase {
  file: string;
  mode: string;
  width: number;
  height: number;
  rgb?: string;
  rgbPixels?: string;
  hf?: string;
  openai?: string;
  error?: string;
}

const resizeCases = (JSON.parse(readFileSync(join(FIXTURES, 'resize.json'), 'utf8')) as { cases: ResizeCase[] }).cases;
const imageCases = (JSON.parse(readFileSync(join(FIXTURES, 'images.json'), 'utf8')) as { cases: ImageCase[] }).cases;

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** The generator's `synthetic()`, bit for bit: gradient, hashed noise, a 0/255 checker, flat with a line. */
function synthetic(width: number, height: number, channels: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * channels);
  let i = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const q = Math.floor((x * 4) / width);
      for (let c = 0; c < channels; c++) {
        let v: number;
        if (q === 0) {
          v = (Math.floor((x * 255) / Math.max(1, width - 1)) + y * 7 + c * 40 + seed) % 256;
        } else if (q === 1) {
          let h = (Math.imul(x, 374761393) + Math.imul(y, 668265263) + Math.imul(c, 2246822519 | 0) + Math.imul(seed, 3266489917 | 0)) >>> 0;
          h = Math.imul(h ^ (h >>> 13), 1274126177) >>> 0;
          v = (h ^ (h >>> 16)) & 255;
        } else if (q === 2) {
          v = ((Math.floor(x / 3) + Math.floor(y / 2) + c + seed) % 2) * 255;
        } else {
          v = y === Math.floor(height / 2) ? 255 : (128 + c * 30 + seed) % 256;
        }
        out[i++] = v;
      }
    }
  }
  return out;
}

/** HF's geometry (resize shortest edge 224 with PIL bicubic, centre crop 224) on RGB bytes. */
function clipGeometry(image: { data: Uint8Array; height: number; width: number }, rounding: 'floor' | 'half-even'): Uint8Array {
  const size = resizedSize(image.height, image.width, CLIP_PREPROCESS);
  const resized = new Resampler('bicubic').resize({ ...image, channels: 3 }, size.height, size.width);
  const { top, left } = cropOffsets(resized.height, resized.width, 224, 224, rounding);
  const out = new Uint8Array(224 * 224 * 3);
  for (let y = 0; y < 224; y++) {
    const sy = y + top;
    for (let x = 0; x < 224; x++) {
      const sx = x + left;
      if (sy < 0 || sx < 0 || sy >= resized.height || sx >= resized.width) continue;
      out.set(resized.data.subarray((sy * resized.width + sx) * 3, (sy * resized.width + sx) * 3 + 3), (y * 224 + x) * 3);
    }
  }
  return out;
}

describe("Pillow's resampling, bit for bit", () => {
  it('the generator pattern is reproduced (checked through the first case with stored pixels)', () => {
    expect(resizeCases.some((c) => c.pixels !== undefined)).toBe(true);
  });

  for (const c of resizeCases) {
    it(`${c.filter} ${c.width}x${c.height}x${c.channels} -> ${c.outWidth}x${c.outHeight}`, () => {
      const src = { data: synthetic(c.width, c.height, c.channels, c.seed), height: c.height, width: c.width, channels: c.channels };
      const out = new Resampler(c.filter).resize(src, c.outHeight, c.outWidth);
      expect([out.width, out.height, out.channels]).toEqual([c.outWidth, c.outHeight, c.channels]);
      if (c.pixels !== undefined) {
        const expected = Buffer.from(c.pixels, 'base64');
        let diffs = 0;
        for (let i = 0; i < expected.length; i++) if (expected[i] !== out.data[i]) diffs++;
        expect(diffs).toBe(0);
      }
      expect(sha256(out.data)).toBe(c.sha256);
    });
  }

  it('coefficient rows sum to 2^22 within rounding, and windows stay inside the image', () => {
    for (const [inSize, outSize] of [[32, 224], [500, 298], [1000, 320], [3, 224], [224, 224]]) {
      const c = resampleCoefficients(inSize, outSize, 'bicubic');
      for (let i = 0; i < outSize; i++) {
        let sum = 0;
        for (let k = 0; k < c.count[i]; k++) sum += c.weights[i * c.ksize + k];
        expect(Math.abs(sum - (1 << 22))).toBeLessThanOrEqual(c.count[i]);
        expect(c.start[i]).toBeGreaterThanOrEqual(0);
        expect(c.start[i] + c.count[i]).toBeLessThanOrEqual(inSize);
      }
    }
  });

  it('returns the same image when the size does not change, and refuses bad sizes', () => {
    const src = { data: synthetic(5, 4, 3, 0), height: 4, width: 5, channels: 3 };
    expect(new Resampler().resize(src, 4, 5)).toBe(src);
    expect(() => new Resampler().resize(src, 0, 5)).toThrow(/positive/);
    expect(() => new Resampler().resize({ ...src, height: 5 }, 4, 4)).toThrow(/bytes/);
  });
});

describe('decode + CLIP geometry against Pillow and Hugging Face', () => {
  for (const c of imageCases) {
    if (c.error !== undefined || c.mode === 'I') continue;
    it(`${c.file} (${c.mode}): convert('RGB'), then resize 224 + centre crop (HF floor and OpenAI round half even)`, async () => {
      const rgb = await decodeRgb(readFileSync(join(FIXTURES, c.file)));
      expect([rgb.width, rgb.height]).toEqual([c.width, c.height]);
      if (c.rgbPixels !== undefined) expect(Buffer.from(rgb.data).toString('base64')).toBe(c.rgbPixels);
      expect(sha256(rgb.data)).toBe(c.rgb);
      expect(sha256(clipGeometry(rgb, 'floor'))).toBe(c.hf);
      expect(sha256(clipGeometry(rgb, 'half-even'))).toBe(c.openai);
    });
  }

  it("embed's preprocessor gives the normalised HF pixels (encoded bytes and decoded pixels alike)", async () => {
    const bytes = readFileSync(join(FIXTURES, 'photo.jpg'));
    const rgb = await decodeRgb(bytes);
    const expectedBytes = clipGeometry(rgb, 'floor');
    expect(sha256(expectedBytes)).toBe(imageCases.find((c) => c.file === 'photo.jpg')!.hf);
    const lut = normalizationTable(CLIP_PREPROCESS);
    const plane = 224 * 224;
    for (const input of [new Uint8Array(bytes), rgb]) {
      const out = new Float32Array(3 * plane);
      await new ImagePreprocessor(CLIP_PREPROCESS).into(input, out, 0, { height: 224, width: 224 });
      let diffs = 0;
      for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) if (out[c * plane + i] !== lut[c * 256 + expectedBytes[i * 3 + c]]) diffs++;
      expect(diffs).toBe(0);
    }
  });

  it('gives the same floats on preprocessing worker threads, and reports their errors', async () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'rgb-420.jpg')));
    const rgb = await decodeRgb(bytes);
    const plane = 224 * 224;
    const local = new Float32Array(3 * plane);
    await new ImagePreprocessor(CLIP_PREPROCESS).into(rgb, local, 0, { height: 224, width: 224 });
    const pool = await PreprocessPool.create(CLIP_PREPROCESS, 2);
    try {
      const shared = new Float32Array(new SharedArrayBuffer(4 * 3 * plane * 3)).subarray(3 * plane);
      await Promise.all([pool.into(bytes, shared, 0, { height: 224, width: 224 }), pool.into(rgb, shared, 3 * plane, { height: 224, width: 224 })]);
      expect(Buffer.from(shared.buffer, shared.byteOffset, 3 * plane * 4).equals(Buffer.from(local.buffer))).toBe(true);
      expect(Buffer.from(shared.buffer, shared.byteOffset + 3 * plane * 4, 3 * plane * 4).equals(Buffer.from(local.buffer))).toBe(true);
      await expect(pool.into(new Uint8Array([1, 2, 3]), shared, 0, { height: 224, width: 224 })).rejects.toThrow(/cannot decode image bytes/);
      expect(() => pool.into(rgb, local, 0, { height: 224, width: 224 })).toThrow(/SharedArrayBuffer/);
    } finally {
      await pool.close();
    }
  });

  it('ignores EXIF orientation by default (as Pillow) and applies it when asked', async () => {
    const file = join(FIXTURES, 'rotated.jpg');
    const plain = await decodeRgb(file);
    expect([plain.width, plain.height]).toEqual([61, 47]);
    const rotated = await decodeRgb(file, { exifOrientation: true });
    expect([rotated.width, rotated.height]).toEqual([47, 61]);
    expect(await readHeader(file, { exifOrientation: true })).toMatchObject({ width: 47, height: 61 });
    // Orientation 6: the stored image turned 90° clockwise, so displayed (x, y) = stored (y, 46 - x).
    for (const [x, y] of [[0, 0], [10, 30], [46, 60]]) {
      const d = (y * 47 + x) * 3;
      const s = ((46 - x) * 61 + y) * 3;
      expect(Array.from(rotated.data.subarray(d, d + 3))).toEqual(Array.from(plain.data.subarray(s, s + 3)));
    }
  });

  it("load's decoding keeps Pillow's pixels, and its resize option gives exactly HF's resize + crop", async () => {
    const photo = imageCases.find((c) => c.file === 'photo.jpg')!;
    const files = [join(FIXTURES, 'photo.jpg'), join(FIXTURES, 'photo.jpg')];
    const own = await decodeImages(files);
    expect(own.shape).toEqual([2, 375, 500, 3]);
    expect(sha256(own.data.subarray(0, 375 * 500 * 3))).toBe(photo.rgb);
    const resized = await decodeImages(files, { resize: 224 });
    expect(resized.shape).toEqual([2, 224, 224, 3]);
    expect(sha256(resized.data.subarray(224 * 224 * 3))).toBe(photo.hf);
  });

  it('refuses 16-bit images with a clear message', async () => {
    await expect(decodeRgb(join(FIXTURES, 'grey16.png'))).rejects.toThrow(/16-bit samples are not supported/);
    await expect(decodeImages([join(FIXTURES, 'grey16.png')])).rejects.toThrow(/grey16\.png: images with 16-bit samples are not supported/);
  });
});

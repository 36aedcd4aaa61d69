import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  CLIP_PREPROCESS,
  ImagePreprocessor,
  PreprocessError,
  cropOffsets,
  normalizationTable,
  parsePreprocessorConfig,
  resizedSize,
  type PreprocessConfig,
  type RawImage,
} from '../../src/clip/preprocess.js';

const TOKENIZER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data/clip-tokenizer');

// Normalised values for bytes 0, 10, 128, 250, 255 per channel: ((v/255) - mean) / std with CLIP's
// mean/std, in the float32 arithmetic of CLIPImageProcessor (rescale in float64 then cast, then
// subtract and divide in float32).
const EXPECTED: Record<number, [number, number, number]> = {
  0: [-1.7922625541687012, -1.7520971298217773, -1.480219841003418],
  10: [-1.6462782621383667, -1.6020194292068481, -1.3380191326141357],
  128: [0.07633614540100098, 0.16889731585979462, 0.33994877338409424],
  250: [1.8573440313339233, 1.9998449087142944, 2.0747969150543213],
  255: [1.9303361177444458, 2.0748836994171143, 2.1458969116210938],
};

function solid(height: number, width: number, rgb: [number, number, number]): RawImage {
  const data = new Uint8Array(height * width * 3);
  for (let i = 0; i < height * width; i++) data.set(rgb, i * 3);
  return { data, height, width, channels: 3 };
}

async function run(image: RawImage | Uint8Array, config: PreprocessConfig = CLIP_PREPROCESS): Promise<Float32Array> {
  const p = new ImagePreprocessor(config);
  const size = { height: config.cropHeight, width: config.cropWidth };
  const out = new Float32Array(3 * size.height * size.width);
  await p.into(image, out, 0, size);
  return out;
}

/** Value at channel c, row y, column x of a CHW 224×224 output. */
function at(out: Float32Array, c: number, y: number, x: number, side = 224): number {
  return out[c * side * side + y * side + x];
}

describe('normalisation', () => {
  it('maps bytes to ((v/255) - mean) / std per channel', () => {
    const lut = normalizationTable(CLIP_PREPROCESS);
    for (const [v, values] of Object.entries(EXPECTED)) {
      for (let c = 0; c < 3; c++) {
        expect(lut[c * 256 + Number(v)]).toBe(values[c]);
        const exact = (Number(v) / 255 - CLIP_PREPROCESS.mean[c]) / CLIP_PREPROCESS.std[c];
        expect(Math.abs(lut[c * 256 + Number(v)] - exact)).toBeLessThan(1e-6);
      }
    }
  });

  it('fills a constant-colour image with the constant values, planar RGB', async () => {
    const out = await run(solid(224, 224, [10, 128, 250]));
    for (let c = 0; c < 3; c++) {
      const expected = EXPECTED[[10, 128, 250][c]][c];
      const plane = out.subarray(c * 224 * 224, (c + 1) * 224 * 224);
      expect(plane.every((v) => v === expected)).toBe(true);
    }
  });

  it('keeps a constant colour constant through a bicubic down- and up-scale', async () => {
    for (const [h, w] of [[300, 500], [28, 28], [1000, 250]]) {
      const out = await run(solid(h, w, [0, 255, 128]));
      expect(out.subarray(0, 224 * 224).every((v) => v === EXPECTED[0][0])).toBe(true);
      expect(out.subarray(224 * 224, 2 * 224 * 224).every((v) => v === EXPECTED[255][1])).toBe(true);
      expect(out.subarray(2 * 224 * 224).every((v) => v === EXPECTED[128][2])).toBe(true);
    }
  });
});

describe('resize and centre crop geometry', () => {
  it('resizes the shortest side to 224 and truncates the long side', () => {
    expect(resizedSize(480, 640, CLIP_PREPROCESS)).toEqual({ height: 224, width: 298 }); // 224*640/480 = 298.67
    expect(resizedSize(640, 480, CLIP_PREPROCESS)).toEqual({ height: 298, width: 224 });
    expect(resizedSize(28, 28, CLIP_PREPROCESS)).toEqual({ height: 224, width: 224 });
    expect(resizedSize(100, 301, CLIP_PREPROCESS)).toEqual({ height: 224, width: 674 }); // 674.24
  });

  it('crops with floor((size - crop) / 2) offsets as HF does', () => {
    expect(cropOffsets(224, 230, 224, 224)).toEqual({ top: 0, left: 3 });
    expect(cropOffsets(224, 231, 224, 224)).toEqual({ top: 0, left: 3 }); // 3.5 → 3 (torchvision would round to 4)
    expect(cropOffsets(300, 224, 224, 224)).toEqual({ top: 38, left: 0 });
    expect(cropOffsets(200, 200, 224, 224)).toEqual({ top: -12, left: -12 });
  });

  it("crops with OpenAI's torchvision offsets on request: round half to even, padding (crop - size) // 2", () => {
    expect(cropOffsets(224, 231, 224, 224, 'half-even')).toEqual({ top: 0, left: 4 }); // round(3.5) = 4
    expect(cropOffsets(224, 233, 224, 224, 'half-even')).toEqual({ top: 0, left: 4 }); // round(4.5) = 4
    expect(cropOffsets(224, 235, 224, 224, 'half-even')).toEqual({ top: 0, left: 6 }); // round(5.5) = 6
    expect(cropOffsets(300, 224, 224, 224, 'half-even')).toEqual({ top: 38, left: 0 });
    expect(cropOffsets(201, 200, 224, 224, 'half-even')).toEqual({ top: -11, left: -12 }); // pads 23 // 2 = 11 and 24 // 2 = 12
    expect(cropOffsets(201, 200, 224, 224, 'floor')).toEqual({ top: -12, left: -12 });
  });

  it('cuts a two-colour split image at the expected column', async () => {
    // 224 rows × 230 columns: columns < 115 black, the rest white. No resize (short side is 224);
    // the crop starts at column 3, so output column 112 is the first white one.
    const image = solid(224, 230, [0, 0, 0]);
    for (let y = 0; y < 224; y++) for (let x = 115; x < 230; x++) image.data.fill(255, (y * 230 + x) * 3, (y * 230 + x) * 3 + 3);
    const out = await run(image);
    for (let c = 0; c < 3; c++) {
      for (const y of [0, 100, 223]) {
        expect(at(out, c, y, 0)).toBe(EXPECTED[0][c]);
        expect(at(out, c, y, 111)).toBe(EXPECTED[0][c]);
        expect(at(out, c, y, 112)).toBe(EXPECTED[255][c]);
        expect(at(out, c, y, 223)).toBe(EXPECTED[255][c]);
      }
    }
  });

  it('takes rows from the exact vertical offset of a tall image', async () => {
    // 301 rows × 224 columns, each row's value its index mod 256: top = floor(77/2) = 38.
    const image = solid(301, 224, [0, 0, 0]);
    for (let y = 0; y < 301; y++) image.data.fill(y % 256, y * 224 * 3, (y + 1) * 224 * 3);
    const out = await run(image);
    const lut = normalizationTable(CLIP_PREPROCESS);
    for (const y of [0, 1, 100, 217, 223]) {
      for (let c = 0; c < 3; c++) expect(at(out, c, y, 5)).toBe(lut[c * 256 + ((y + 38) % 256)]);
    }
  });

  it('pads with zero bytes when the crop exceeds the image', async () => {
    const config: PreprocessConfig = { ...CLIP_PREPROCESS, doResize: false, cropHeight: 4, cropWidth: 4 };
    const out = await run(solid(2, 2, [255, 255, 255]), config);
    // top = left = floor((2 - 4) / 2) = -1: the image sits at rows/columns 1..2.
    const c0 = Array.from(out.subarray(0, 16));
    const w = EXPECTED[255][0];
    const z = EXPECTED[0][0];
    expect(c0).toEqual([z, z, z, z, z, w, w, z, z, w, w, z, z, z, z, z]);
  });
});

describe('channels and encodings', () => {
  it('replicates grey and drops alpha like PIL convert("RGB")', async () => {
    const grey: RawImage = { data: new Uint8Array(224 * 224).fill(128), height: 224, width: 224, channels: 1 };
    const outGrey = await run(grey);
    for (let c = 0; c < 3; c++) expect(at(outGrey, c, 50, 50)).toBe(EXPECTED[128][c]);

    const rgba = new Uint8Array(224 * 224 * 4);
    for (let i = 0; i < 224 * 224; i++) rgba.set([10, 128, 250, 0], i * 4);
    const outRgba = await run({ data: rgba, height: 224, width: 224, channels: 4 });
    expect(Array.from(outRgba)).toEqual(Array.from(await run(solid(224, 224, [10, 128, 250]))));
  });

  it('decodes encoded bytes to the same result as the raw pixels', async () => {
    const image = solid(240, 320, [0, 0, 0]);
    for (let i = 0; i < image.data.length; i++) image.data[i] = (i * 7919) % 256;
    const png = await sharp(image.data, { raw: { width: 320, height: 240, channels: 3 } }).png().toBuffer();
    const fromPng = await run(new Uint8Array(png));
    const fromRaw = await run(image);
    expect(Array.from(fromPng)).toEqual(Array.from(fromRaw));
  });

  it('refuses an image that would not fill the batch slot, naming both sizes', async () => {
    const p = new ImagePreprocessor({ ...CLIP_PREPROCESS, doCenterCrop: false });
    const out = new Float32Array(3 * 224 * 224);
    await expect(p.into(solid(300, 224, [0, 0, 0]), out, 0, { height: 224, width: 224 })).rejects.toThrow(/a 224x300 image preprocesses to 224x300, but the batch needs 224x224/);
    await expect(p.into({ data: new Uint8Array(5), height: 2, width: 2, channels: 3 }, out, 0, { height: 224, width: 224 })).rejects.toThrow(
      PreprocessError,
    );
  });
});

describe('preprocessor_config.json', () => {
  it('reads sizes, flags, resample and statistics', () => {
    const c = parsePreprocessorConfig({
      size: { shortest_edge: 256 }, crop_size: { height: 240, width: 200 }, resample: 2,
      image_mean: [0.5, 0.5, 0.5], image_std: [0.25, 0.5, 1], do_center_crop: false, rescale_factor: 0.5,
    });
    expect(c).toMatchObject({ shortestEdge: 256, cropHeight: 240, cropWidth: 200, kernel: 'bilinear', doCenterCrop: false, rescaleFactor: 0.5 });
    expect(c.mean).toEqual([0.5, 0.5, 0.5]);
    expect(parsePreprocessorConfig({ size: 224, crop_size: 224 })).toMatchObject({ shortestEdge: 224, cropHeight: 224, cropWidth: 224 });
    expect(() => parsePreprocessorConfig({ image_mean: [1, 2] }, 'cfg.json')).toThrow(/cfg\.json: image_mean must be three numbers/);
    expect(parsePreprocessorConfig({ resample: 5 }).kernel).toBe('hamming');
    expect(() => parsePreprocessorConfig({ resample: 7 })).toThrow(/resample 7 is not a PIL filter/);
  });

  it.skipIf(!existsSync(join(TOKENIZER_DIR, 'preprocessor_config.json')))('matches CLIP defaults for the shared ViT-B/32 config', () => {
    const json = JSON.parse(readFileSync(join(TOKENIZER_DIR, 'preprocessor_config.json'), 'utf8')) as Record<string, unknown>;
    const c = parsePreprocessorConfig(json);
    expect({ ...c, rescaleFactor: 0 }).toEqual({ ...CLIP_PREPROCESS, rescaleFactor: 0 });
    expect(Math.abs(c.rescaleFactor - 1 / 255)).toBeLessThan(1e-18);
  });
});

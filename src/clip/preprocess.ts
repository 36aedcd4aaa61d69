// CLIP image preprocessing as Hugging Face's CLIPImageProcessor does it: convert to RGB, resize so the
// shortest side is `shortest_edge` (long side = int(size * long / short)), centre-crop with
// top = (h - crop_h) // 2, left = (w - crop_w) // 2, rescale by 1/255, normalise by mean/std, and lay
// out as float32 CHW.
//
// Resampling is Pillow's own (`./resample.ts`, PIL BICUBIC without reducing_gap, as HF calls it),
// bit for bit, on the decoded pixels; sharp only decodes. As PIL does, an image already at the target
// size is not resampled. `cropRounding: 'half-even'` gives OpenAI's torchvision centre crop instead
// (int(round((h - crop_h) / 2)), Python's round half to even; a crop larger than the image pads
// (crop - size) // 2 before).
import { readFile } from 'node:fs/promises';
import { decodeRgb, interleavedToRgb } from '../data/decode.js';
import { Resampler, type PillowFilter } from './resample.js';

/** PIL's resampling filters (PIL codes 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming). */
export type ResampleKernel = PillowFilter;

/** How the centre crop rounds an odd margin: floor (Hugging Face) or half to even (OpenAI's torchvision). */
export type CropRounding = 'floor' | 'half-even';

export interface PreprocessConfig {
  /** Resize so the shortest side has this length; or, with `resizeTo`, to an exact size. */
  doResize: boolean;
  shortestEdge?: number;
  resizeTo?: { height: number; width: number };
  kernel: ResampleKernel;
  doCenterCrop: boolean;
  /** Hugging Face floors the crop offsets (default); OpenAI's transform rounds half to even. */
  cropRounding?: CropRounding;
  cropHeight: number;
  cropWidth: number;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** OpenAI CLIP ViT-B/32's preprocessing (what `preprocessor_config.json` of the HF export says). */
export const CLIP_PREPROCESS: PreprocessConfig = {
  doResize: true,
  shortestEdge: 224,
  kernel: 'bicubic',
  doCenterCrop: true,
  cropHeight: 224,
  cropWidth: 224,
  doRescale: true,
  rescaleFactor: 1 / 255,
  doNormalize: true,
  mean: CLIP_MEAN,
  std: CLIP_STD,
};

export class PreprocessError extends Error {
  override name = 'PreprocessError';
}

/** An interleaved uint8 image (HWC), e.g. one item of the `load` node's NHWC tensor. */
export interface RawImage {
  data: Uint8Array;
  height: number;
  width: number;
  channels: number;
}

// PIL resample codes used in preprocessor_config.json.
const PIL_RESAMPLE: Record<number, ResampleKernel> = { 0: 'nearest', 1: 'lanczos', 2: 'bilinear', 3: 'bicubic', 4: 'box', 5: 'hamming' };

type Json = Record<string, unknown>;

function positiveInt(value: unknown, field: string, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new PreprocessError(`${where}: ${field} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function triple(value: unknown, field: string, where: string): readonly [number, number, number] {
  if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new PreprocessError(`${where}: ${field} must be three numbers, got ${JSON.stringify(value)}`);
  }
  return [value[0], value[1], value[2]];
}

/** Reads a Hugging Face `preprocessor_config.json` object; absent fields take CLIP's values. */
export function parsePreprocessorConfig(json: Json, where = 'preprocessor_config.json'): PreprocessConfig {
  const config: PreprocessConfig = { ...CLIP_PREPROCESS };
  if (typeof json.do_resize === 'boolean') config.doResize = json.do_resize;
  if (typeof json.do_center_crop === 'boolean') config.doCenterCrop = json.do_center_crop;
  if (typeof json.do_rescale === 'boolean') config.doRescale = json.do_rescale;
  if (typeof json.do_normalize === 'boolean') config.doNormalize = json.do_normalize;
  if (json.rescale_factor !== undefined) {
    if (typeof json.rescale_factor !== 'number') throw new PreprocessError(`${where}: rescale_factor must be a number`);
    config.rescaleFactor = json.rescale_factor;
  }
  if (json.image_mean !== undefined) config.mean = triple(json.image_mean, 'image_mean', where);
  if (json.image_std !== undefined) config.std = triple(json.image_std, 'image_std', where);
  if (json.resample !== undefined) {
    const kernel = PIL_RESAMPLE[json.resample as number];
    if (!kernel) throw new PreprocessError(`${where}: resample ${JSON.stringify(json.resample)} is not a PIL filter (0 to 5)`);
    config.kernel = kernel;
  }
  const size = json.size;
  if (typeof size === 'number') {
    config.shortestEdge = positiveInt(size, 'size', where);
  } else if (size && typeof size === 'object') {
    const s = size as Json;
    if (s.shortest_edge !== undefined) {
      config.shortestEdge = positiveInt(s.shortest_edge, 'size.shortest_edge', where);
    } else if (s.height !== undefined && s.width !== undefined) {
      config.shortestEdge = undefined;
      config.resizeTo = { height: positiveInt(s.height, 'size.height', where), width: positiveInt(s.width, 'size.width', where) };
    } else {
      throw new PreprocessError(`${where}: size must have shortest_edge or height and width, got ${JSON.stringify(size)}`);
    }
  }
  const crop = json.crop_size;
  if (typeof crop === 'number') {
    config.cropHeight = config.cropWidth = positiveInt(crop, 'crop_size', where);
  } else if (crop && typeof crop === 'object') {
    config.cropHeight = positiveInt((crop as Json).height, 'crop_size.height', where);
    config.cropWidth = positiveInt((crop as Json).width, 'crop_size.width', where);
  }
  return config;
}

export async function loadPreprocessorConfig(path: string): Promise<PreprocessConfig> {
  let json: Json;
  try {
    json = JSON.parse(await readFile(path, 'utf8')) as Json;
  } catch (e) {
    throw new PreprocessError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return parsePreprocessorConfig(json, path);
}

/** Size after the resize step: HF's `get_resize_output_image_size` with default_to_square=False. */
export function resizedSize(height: number, width: number, config: PreprocessConfig): { height: number; width: number } {
  if (!config.doResize) return { height, width };
  if (config.resizeTo) return { ...config.resizeTo };
  const target = config.shortestEdge ?? CLIP_PREPROCESS.shortestEdge!;
  const short = Math.min(height, width);
  const long = Math.max(height, width);
  const newLong = Math.trunc((target * long) / short);
  return height <= width ? { height: target, width: newLong } : { height: newLong, width: target };
}

/** The final image size for an input size. */
export function outputSize(height: number, width: number, config: PreprocessConfig): { height: number; width: number } {
  return config.doCenterCrop ? { height: config.cropHeight, width: config.cropWidth } : resizedSize(height, width, config);
}

/** Python's round() of x / 2 for an integer x: half to even. */
function roundHalfEvenHalf(x: number): number {
  const q = Math.floor(x / 2);
  return x % 2 === 0 ? x / 2 : q % 2 === 0 ? q : q + 1;
}

/** One centre-crop offset: floor (HF) or torchvision's (pad (crop - size) // 2, else round half to even). */
function cropOffset(size: number, crop: number, rounding: CropRounding): number {
  if (rounding === 'floor') return Math.floor((size - crop) / 2);
  if (crop > size) return -Math.floor((crop - size) / 2);
  return roundHalfEvenHalf(size - crop);
}

/** Centre-crop offsets; negative when the crop is larger (zero padding). HF floors (default). */
export function cropOffsets(
  height: number,
  width: number,
  cropHeight: number,
  cropWidth: number,
  rounding: CropRounding = 'floor',
): { top: number; left: number } {
  return { top: cropOffset(height, cropHeight, rounding), left: cropOffset(width, cropWidth, rounding) };
}

/**
 * Per-channel lookup from a byte to its normalised float32 value, computed in the order and
 * precision of CLIPImageProcessor: rescale (float64 product, stored as float32), then
 * (x - mean) / std in float32.
 */
export function normalizationTable(config: PreprocessConfig): Float32Array {
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(config.mean[c]);
    const std = Math.fround(config.std[c]);
    for (let v = 0; v < 256; v++) {
      let x = config.doRescale ? Math.fround(v * config.rescaleFactor) : v;
      if (config.doNormalize) x = Math.fround(Math.fround(x - mean) / std);
      lut[c * 256 + v] = x;
    }
  }
  return lut;
}

/** Converts to 3-channel RGB as PIL's convert('RGB') does: grey is replicated, alpha dropped. */
export function toRgb(image: RawImage): RawImage {
  const { data, height, width, channels } = image;
  if (data.length !== height * width * channels) {
    throw new PreprocessError(`image data has ${data.length} bytes, expected ${height}x${width}x${channels}`);
  }
  if (channels === 3) return image;
  if (channels < 1 || channels > 4) throw new PreprocessError(`images need 1 to 4 channels, got ${channels}`);
  const rgb = interleavedToRgb(data, height * width, channels);
  return { data: rgb, height, width, channels: 3 };
}

/** Resizes an image with Pillow's resampling (skipped when the size does not change). */
export function resizeRgb(image: RawImage, height: number, width: number, kernel: ResampleKernel, resampler = new Resampler(kernel)): RawImage {
  if (resampler.filter !== kernel) throw new PreprocessError(`resampler filter ${resampler.filter} is not ${kernel}`);
  return resampler.resize(image, height, width);
}

/**
 * Centre-crops an RGB image and writes it normalised as CHW float32 into `out` at `offset`
 * (outH × outW per channel). Pixels outside the image (crop larger than it) are zero bytes, as HF pads.
 */
export function cropNormalizeInto(
  image: RawImage,
  outHeight: number,
  outWidth: number,
  lut: Float32Array,
  out: Float32Array,
  offset: number,
  rounding: CropRounding = 'floor',
): void {
  const { data, height, width } = image;
  const { top, left } = cropOffsets(height, width, outHeight, outWidth, rounding);
  const plane = outHeight * outWidth;
  for (let y = 0; y < outHeight; y++) {
    const sy = y + top;
    const rowOut = offset + y * outWidth;
    for (let x = 0; x < outWidth; x++) {
      const sx = x + left;
      const inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
      const src = (sy * width + sx) * 3;
      const o = rowOut + x;
      out[o] = lut[inside ? data[src] : 0];
      out[o + plane] = lut[256 + (inside ? data[src + 1] : 0)];
      out[o + 2 * plane] = lut[512 + (inside ? data[src + 2] : 0)];
    }
  }
}

/**
 * Decodes encoded image bytes (JPEG, PNG, WebP...) to 8-bit RGB as PIL's open + convert('RGB'),
 * without EXIF rotation (as PIL).
 */
export async function decodeImageBytes(bytes: Uint8Array): Promise<RawImage> {
  try {
    return await decodeRgb(bytes);
  } catch (e) {
    throw new PreprocessError(`cannot decode image bytes: ${(e as Error).message}`);
  }
}

/** A preprocessor bound to one config: its lookup table and output size. */
export class ImagePreprocessor {
  private readonly lut: Float32Array;
  private readonly resampler: Resampler;

  constructor(readonly config: PreprocessConfig) {
    this.lut = normalizationTable(config);
    this.resampler = new Resampler(config.kernel);
  }

  /** Output size for an input of this size. */
  outputSize(height: number, width: number): { height: number; width: number } {
    return outputSize(height, width, this.config);
  }

  /**
   * Preprocesses one image (raw pixels, or encoded bytes) into `out` at `offset` as CHW float32 of
   * the expected size; throws when the image would come out at another size.
   */
  async into(image: RawImage | Uint8Array, out: Float32Array, offset: number, expected: { height: number; width: number }): Promise<void> {
    const raw = toRgb(image instanceof Uint8Array ? await decodeImageBytes(image) : image);
    const size = resizedSize(raw.height, raw.width, this.config);
    const final = this.outputSize(raw.height, raw.width);
    if (final.height !== expected.height || final.width !== expected.width) {
      throw new PreprocessError(
        `a ${raw.width}x${raw.height} image preprocesses to ${final.width}x${final.height}, but the batch needs ${expected.width}x${expected.height}`,
      );
    }
    const resized = this.config.doResize ? this.resampler.resize(raw, size.height, size.width) : raw;
    cropNormalizeInto(resized, final.height, final.width, this.lut, out, offset, this.config.cropRounding ?? 'floor');
  }
}

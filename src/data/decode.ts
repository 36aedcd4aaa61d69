// Decodes an image file or encoded bytes to 8-bit RGB exactly as Pillow's `Image.open(f).convert('RGB')`
// does (what Hugging Face's CLIPImageProcessor and OpenAI's CLIP transform see), with sharp as the
// decoder (its libjpeg-turbo, libspng and libwebp decode as Pillow's do):
// - no colour management: embedded ICC profiles are ignored, as Pillow ignores them;
// - no EXIF rotation unless asked (`exifOrientation`), as Pillow does not rotate;
// - alpha is dropped, not composited (RGBA, LA, palettes with transparency), grey is replicated;
// - CMYK with Pillow's formula: v = (255 - k) - (c * (255 - k)) / 255 in its rounded integer form;
// - images with more than 8 bits per sample are refused (Pillow's 16-bit handling differs between
//   versions: convert('RGB') clips or fails).
import sharp, { type Metadata, type Sharp } from 'sharp';

export interface RgbImage {
  data: Uint8Array;
  height: number;
  width: number;
  channels: 3;
}

export interface DecodeRgbOptions {
  /** Apply the EXIF orientation (as PIL.ImageOps.exif_transpose); default false, as Pillow. */
  exifOrientation?: boolean;
}

/** Header facts needed before decoding: the size the decoded image will have. */
export interface ImageHeader {
  height: number;
  width: number;
}

/** A decode failure; the caller adds the file name. */
export class DecodeError extends Error {
  override name = 'DecodeError';
}

const EIGHT_BIT = new Set(['uchar', 'char']);

function open(input: string | Uint8Array): Sharp {
  return sharp(input, { failOn: 'error', ignoreIcc: true });
}

/** The size a decode will produce (EXIF rotation by 90° swaps it), and a refusal of unsupported depths. */
export async function readHeader(input: string | Uint8Array, options: DecodeRgbOptions = {}): Promise<ImageHeader & { meta: Metadata }> {
  const meta = await open(input).metadata();
  if (meta.width === undefined || meta.height === undefined) throw new DecodeError('the image has no size');
  if (meta.depth !== undefined && !EIGHT_BIT.has(meta.depth)) {
    throw new DecodeError(`images with ${meta.depth === 'ushort' ? '16' : meta.depth}-bit samples are not supported (only 8-bit); convert it to 8-bit first`);
  }
  const swap = options.exifOrientation === true && meta.orientation !== undefined && meta.orientation >= 5;
  return { height: swap ? meta.width : meta.height, width: swap ? meta.height : meta.width, meta };
}

/** Pillow's CMYK → RGB (Convert.c cmyk2rgb): (255 - k) - MULDIV255(c, 255 - k), per channel. */
export function cmykToRgb(cmyk: Uint8Array, pixels: number): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const nk = 255 - cmyk[i * 4 + 3];
    for (let c = 0; c < 3; c++) {
      const t = cmyk[i * 4 + c] * nk + 128;
      const v = nk - (((t >> 8) + t) >> 8);
      rgb[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return rgb;
}

/** Interleaved 8-bit pixels with 1 to 4 channels to RGB (PIL's convert('RGB')): grey replicated, alpha dropped. */
export function interleavedToRgb(data: Uint8Array, pixels: number, channels: number): Uint8Array {
  if (channels === 3) return data;
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const s = i * channels;
    if (channels <= 2) {
      rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = data[s];
    } else {
      rgb[i * 3] = data[s];
      rgb[i * 3 + 1] = data[s + 1];
      rgb[i * 3 + 2] = data[s + 2];
    }
  }
  return rgb;
}

/** Decodes to RGB as Pillow's open + convert('RGB') (optionally EXIF-rotated). */
export async function decodeRgb(input: string | Uint8Array, options: DecodeRgbOptions = {}): Promise<RgbImage> {
  const { meta } = await readHeader(input, options);
  let pipeline = open(input);
  if (options.exifOrientation) pipeline = pipeline.rotate();
  const cmyk = meta.space === 'cmyk';
  if (cmyk) pipeline = pipeline.pipelineColourspace('cmyk').toColourspace('cmyk');
  const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const pixels = info.width * info.height;
  if (cmyk) {
    if (info.channels !== 4) throw new DecodeError(`CMYK decoded to ${info.channels} channels, expected 4`);
    return { data: cmykToRgb(bytes, pixels), height: info.height, width: info.width, channels: 3 };
  }
  if (info.channels < 1 || info.channels > 4) throw new DecodeError(`decoded to ${info.channels} channels`);
  return { data: interleavedToRgb(bytes, pixels, info.channels), height: info.height, width: info.width, channels: 3 };
}

// Decodes image files to a uint8 NHWC tensor, as Pillow's open + convert('RGB') (see ./decode.ts).
// Images keep their own size (CLIP's preprocessing in `embed` then resizes and crops them exactly as
// the reference does), so all files must share one size; or, with `resize`, each is put through
// CLIP's own geometry here (Pillow bicubic to a shortest edge of `resize`, Hugging Face's centre crop
// to resize × resize), which for resize = the model's crop size gives `embed` the very same pixels.
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import pLimit from 'p-limit';
import { cropOffsets } from '../clip/preprocess.js';
import { Resampler } from '../clip/resample.js';
import { tensor, type Tensor } from '../runtime/tensor.js';
import { decodeRgb, readHeader, type RgbImage } from './decode.js';
import { DatasetError } from './errors.js';

export interface DecodeOptions {
  /** Resize the shortest edge to this (Pillow bicubic) and centre-crop to a square of it; default: keep the size. */
  resize?: number;
  /** Apply EXIF orientation; default false (as Pillow and the CLIP references). */
  exifOrientation?: boolean;
  /** How many images sharp decodes at once; defaults to the number of CPUs. */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?(done: number, total: number): void;
}

/** CLIP's geometry on an RGB image: shortest edge to `size` (long edge truncated), centre crop size × size (floor). */
export function clipResizeCrop(image: RgbImage, size: number, resampler = new Resampler('bicubic')): Uint8Array {
  const { height, width } = image;
  const short = Math.min(height, width);
  const long = Math.trunc((size * Math.max(height, width)) / short);
  const [h, w] = height <= width ? [size, long] : [long, size];
  const resized = resampler.resize(image, h, w);
  const { top, left } = cropOffsets(h, w, size, size);
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const start = ((y + top) * w + left) * 3;
    out.set(resized.data.subarray(start, start + size * 3), y * size * 3);
  }
  return out;
}

function checkResize(resize: number | undefined): void {
  if (resize !== undefined && (!Number.isInteger(resize) || resize < 1)) throw new RangeError(`resize must be a positive integer, got ${resize}`);
}

/** Decodes one file to RGB bytes: its own size, or resize × resize through CLIP's geometry. */
export async function decodeImage(file: string, options: Pick<DecodeOptions, 'resize' | 'exifOrientation'> = {}): Promise<RgbImage> {
  checkResize(options.resize);
  try {
    const image = await decodeRgb(file, { exifOrientation: options.exifOrientation });
    if (options.resize === undefined) return image;
    return { data: clipResizeCrop(image, options.resize), height: options.resize, width: options.resize, channels: 3 };
  } catch (e) {
    throw new DatasetError(`cannot decode image ${file}: ${(e as Error).message}`);
  }
}

/** The common size of `files` (read from their headers); a clear error when they differ. */
async function commonSize(files: readonly string[], options: DecodeOptions, limit: ReturnType<typeof pLimit>): Promise<{ height: number; width: number }> {
  const headers = await Promise.all(
    files.map((file) =>
      limit(async () => {
        options.signal?.throwIfAborted();
        try {
          return await readHeader(file, { exifOrientation: options.exifOrientation });
        } catch (e) {
          throw new DatasetError(`cannot decode image ${file}: ${(e as Error).message}`);
        }
      }),
    ),
  );
  const first = headers[0];
  const other = headers.findIndex((h) => h.height !== first.height || h.width !== first.width);
  if (other >= 0) {
    const h = headers[other];
    throw new DatasetError(
      `images differ in size: ${files[other]} is ${h.width}x${h.height} but ${basename(files[0])} (the first) is ${first.width}x${first.height}; ` +
        'load keeps images at their own size (embed applies CLIP\'s exact resize and crop); set "resize" (e.g. 224) to apply CLIP\'s resize and centre crop here',
    );
  }
  return { height: first.height, width: first.width };
}

/** Decodes `files` in order into a uint8 tensor [N, H, W, 3]. */
export async function decodeImages(files: readonly string[], options: DecodeOptions = {}): Promise<Tensor<'uint8'>> {
  const { resize, signal, onProgress } = options;
  checkResize(resize);
  const limit = pLimit(options.concurrency ?? availableParallelism());
  if (files.length === 0) return tensor('uint8', [0, resize ?? 0, resize ?? 0, 3], new Uint8Array(0));
  try {
    const size = resize !== undefined ? { height: resize, width: resize } : await commonSize(files, options, limit);
    const stride = size.height * size.width * 3;
    const out = new Uint8Array(files.length * stride);
    const resampler = new Resampler('bicubic');
    let done = 0;
    await Promise.all(
      files.map((file, i) =>
        limit(async () => {
          signal?.throwIfAborted();
          let image: RgbImage;
          try {
            image = await decodeRgb(file, { exifOrientation: options.exifOrientation });
          } catch (e) {
            throw new DatasetError(`cannot decode image ${file}: ${(e as Error).message}`);
          }
          if (resize !== undefined) {
            out.set(clipResizeCrop(image, resize, resampler), i * stride);
          } else {
            if (image.height !== size.height || image.width !== size.width) {
              throw new DatasetError(`${file} decoded to ${image.width}x${image.height}, its header said ${size.width}x${size.height}`);
            }
            out.set(image.data, i * stride);
          }
          onProgress?.(++done, files.length);
        }),
      ),
    );
    return tensor('uint8', [files.length, size.height, size.width, 3], out);
  } catch (e) {
    limit.clearQueue(); // one failure fails the load: do not keep decoding the rest
    throw e;
  }
}

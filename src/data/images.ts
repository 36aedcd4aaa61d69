// Decodes image files to a fixed-size uint8 NHWC tensor with sharp. Each image is resized so its
// shorter side is `size` and centre-cropped to size × size (what CLIP's own preprocessing does
// before normalising, with the same bicubic filter), so later stages see square RGB arrays.
import { availableParallelism } from 'node:os';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { tensor, type Tensor } from '../runtime/tensor.js';
import { DatasetError } from './errors.js';

export interface DecodeOptions {
  /** Output side length in pixels. */
  size: number;
  /** How many images sharp decodes at once; defaults to the number of CPUs. */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?(done: number, total: number): void;
}

/** Decodes one file to `size`×`size` RGB bytes (row-major, 3 channels). */
export async function decodeImage(file: string, size: number): Promise<Uint8Array> {
  try {
    const { data, info } = await sharp(file, { failOn: 'error' })
      .rotate() // honour EXIF orientation, as image viewers (and PIL's exif_transpose users) do
      .removeAlpha()
      .toColourspace('srgb')
      .resize(size, size, { fit: 'cover', position: 'centre', kernel: 'cubic' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== size || info.height !== size) {
      throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (e) {
    throw new DatasetError(`cannot decode image ${file}: ${(e as Error).message}`);
  }
}

/** Decodes `files` in order into a uint8 tensor [N, size, size, 3]. */
export async function decodeImages(files: readonly string[], options: DecodeOptions): Promise<Tensor<'uint8'>> {
  const { size, signal, onProgress } = options;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`image size must be a positive integer, got ${size}`);
  const stride = size * size * 3;
  const out = new Uint8Array(files.length * stride);
  const limit = pLimit(options.concurrency ?? availableParallelism());
  let done = 0;
  try {
    await Promise.all(
      files.map((file, i) =>
        limit(async () => {
          signal?.throwIfAborted();
          out.set(await decodeImage(file, size), i * stride);
          onProgress?.(++done, files.length);
        }),
      ),
    );
  } catch (e) {
    limit.clearQueue(); // one failure fails the load: do not keep decoding the rest
    throw e;
  }
  return tensor('uint8', [files.length, size, size, 3], out);
}

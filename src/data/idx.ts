// MNIST and Fashion-MNIST in the IDX format (http://yann.lecun.com/exdb/mnist/): a big-endian
// header (magic 0x0000, type byte, rank byte, rank × uint32 sizes) then the raw values. The files
// may be gzipped; we detect that by the gzip magic, not the name.
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { tensor } from '../runtime/tensor.js';
import { DatasetError } from './errors.js';
import type { ImageDataset, ImageSplit } from './types.js';

export type MnistVariant = 'mnist' | 'fashion-mnist';

export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

const UBYTE = 0x08;

export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

/** Decodes one IDX file (gzipped or not). Only unsigned-byte data, which is all (Fashion-)MNIST uses. */
export function decodeIdx(raw: Uint8Array, name: string): IdxArray {
  const bytes = raw.byteLength >= 2 && raw[0] === 0x1f && raw[1] === 0x8b ? new Uint8Array(gunzipSync(raw)) : raw;
  if (bytes.byteLength < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DatasetError(`${name}: not an IDX file (the first two bytes must be zero)`);
  }
  if (bytes[2] !== UBYTE) {
    throw new DatasetError(`${name}: IDX data type 0x${bytes[2].toString(16)} is not supported (only unsigned byte, 0x08)`);
  }
  const rank = bytes[3];
  const headerBytes = 4 + 4 * rank;
  if (bytes.byteLength < headerBytes) throw new DatasetError(`${name}: truncated IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let d = 0; d < rank; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    shape.push(size);
    count *= size;
  }
  if (bytes.byteLength - headerBytes !== count) {
    throw new DatasetError(
      `${name}: header shape [${shape.join(', ')}] needs ${count} bytes of data but the file has ${bytes.byteLength - headerBytes}`,
    );
  }
  return { shape, data: bytes.subarray(headerBytes) };
}

interface SplitFiles {
  images: string;
  labels: string;
}

/** Finds `<prefix>-images-idx3-ubyte` (or `.idx3-ubyte`, optionally `.gz`) and its labels file. */
function findSplit(dir: string, prefix: 'train' | 't10k'): SplitFiles | undefined {
  const find = (kind: 'images' | 'labels', rank: number): string | undefined => {
    for (const sep of ['-', '.']) {
      for (const ext of ['', '.gz']) {
        const file = join(dir, `${prefix}-${kind}${sep}idx${rank}-ubyte${ext}`);
        if (existsSync(file)) return file;
      }
    }
    return undefined;
  };
  const images = find('images', 3);
  const labels = find('labels', 1);
  if (!images && !labels) return undefined;
  if (!images || !labels) {
    throw new DatasetError(`${dir}: found the ${prefix} ${images ? 'images' : 'labels'} but not the matching ${images ? 'labels' : 'images'} file`);
  }
  return { images, labels };
}

function locate(dir: string, variant: MnistVariant): { train?: SplitFiles; test?: SplitFiles } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new DatasetError(`${variant}: ${dir} is not a directory holding the IDX files`);
  }
  const train = findSplit(dir, 'train');
  const test = findSplit(dir, 't10k');
  if (!train && !test) {
    throw new DatasetError(`${variant}: no train-images-idx3-ubyte[.gz] or t10k-images-idx3-ubyte[.gz] in ${dir}`);
  }
  return { train, test };
}

/** Every local file reading `dir` touches (for cache keys). */
export function mnistFiles(variant: MnistVariant, dir: string): string[] {
  const { train, test } = locate(dir, variant);
  return [train, test].flatMap((s) => (s ? [s.images, s.labels] : []));
}

async function readSplit(files: SplitFiles, numClasses: number): Promise<ImageSplit> {
  const images = decodeIdx(await readFile(files.images), files.images);
  const labels = decodeIdx(await readFile(files.labels), files.labels);
  if (images.shape.length !== 3) throw new DatasetError(`${files.images}: expected a rank-3 image array, got [${images.shape.join(', ')}]`);
  if (labels.shape.length !== 1) throw new DatasetError(`${files.labels}: expected a rank-1 label array, got [${labels.shape.join(', ')}]`);
  const [n, h, w] = images.shape;
  if (labels.shape[0] !== n) {
    throw new DatasetError(`${files.labels} has ${labels.shape[0]} labels but ${files.images} has ${n} images`);
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (labels.data[i] >= numClasses) throw new DatasetError(`${files.labels}: label ${labels.data[i]} at ${i} is not below ${numClasses}`);
    out[i] = labels.data[i];
  }
  // Copy so the tensor owns a compact buffer rather than a view into the decompressed file.
  return { images: tensor('uint8', [n, h, w, 1], images.data.slice()), labels: out };
}

/**
 * Reads (Fashion-)MNIST from a directory of IDX files. When only one split is present (e.g. just
 * the t10k files) it is returned as `train` and `test` is absent.
 */
export async function readMnist(variant: MnistVariant, dir: string): Promise<ImageDataset> {
  const classes = [...(variant === 'mnist' ? MNIST_CLASSES : FASHION_MNIST_CLASSES)];
  const files = locate(dir, variant);
  const train = files.train ? await readSplit(files.train, classes.length) : undefined;
  const test = files.test ? await readSplit(files.test, classes.length) : undefined;
  return train ? { train, test, classes } : { train: test!, classes };
}

// CIFAR-10 and CIFAR-100 in the official binary layout (https://www.cs.toronto.edu/~kriz/cifar.html),
// from the extracted directory or straight from the .tar.gz. Each record is the label byte(s)
// followed by 3072 pixel bytes stored planar (1024 R, then G, then B); we emit NHWC.
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { tensor } from '../runtime/tensor.js';
import { CIFAR100_COARSE_CLASSES, CIFAR100_FINE_CLASSES, CIFAR10_CLASSES } from './cifar-classes.js';
import { DatasetError } from './errors.js';
import { readTarGzMembers } from './tar.js';
import type { ImageDataset, ImageSplit } from './types.js';

export type CifarVariant = 'cifar10' | 'cifar100';
export type Cifar100Label = 'fine' | 'coarse';

const SIDE = 32;
const PIXELS = SIDE * SIDE;
const IMAGE_BYTES = PIXELS * 3;

interface Layout {
  /** The folder the archive extracts to. */
  dir: string;
  train: string[];
  test: string[];
  /** Label bytes before the pixels, and which one we use. */
  labelBytes: number;
  labelIndex: number;
  namesFile: string;
  defaultNames: readonly string[];
}

function layoutOf(variant: CifarVariant, label: Cifar100Label): Layout {
  if (variant === 'cifar10') {
    return {
      dir: 'cifar-10-batches-bin',
      train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
      test: ['test_batch.bin'],
      labelBytes: 1,
      labelIndex: 0,
      namesFile: 'batches.meta.txt',
      defaultNames: CIFAR10_CLASSES,
    };
  }
  // CIFAR-100 records start with the coarse label byte, then the fine one.
  const fine = label === 'fine';
  return {
    dir: 'cifar-100-binary',
    train: ['train.bin'],
    test: ['test.bin'],
    labelBytes: 2,
    labelIndex: fine ? 1 : 0,
    namesFile: fine ? 'fine_label_names.txt' : 'coarse_label_names.txt',
    defaultNames: fine ? CIFAR100_FINE_CLASSES : CIFAR100_COARSE_CLASSES,
  };
}

/** A file (rather than a folder) is taken to be the official .tar.gz, whatever its name. */
function isArchive(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** The directory holding the batch files: `path` itself or its standard sub-folder. */
function batchDir(path: string, layout: Layout, variant: CifarVariant): string {
  if (existsSync(join(path, layout.train[0]))) return path;
  if (existsSync(join(path, layout.dir, layout.train[0]))) return join(path, layout.dir);
  throw new DatasetError(
    `${variant}: no ${layout.train[0]} in ${path} or ${join(path, layout.dir)}; ` +
      `expected the extracted official binary archive (${layout.dir}/) or the .tar.gz itself`,
  );
}

/** Every local file reading `path` touches (for cache keys). */
export function cifarFiles(variant: CifarVariant, path: string, label: Cifar100Label = 'fine'): string[] {
  if (isArchive(path)) return [path];
  const layout = layoutOf(variant, label);
  const dir = batchDir(path, layout, variant);
  const files = [...layout.train, ...layout.test].map((f) => join(dir, f));
  const names = join(dir, layout.namesFile);
  return existsSync(names) ? [...files, names] : files;
}

/** Decodes concatenated CIFAR records into NHWC images and labels. */
export function decodeCifarRecords(
  chunks: readonly { name: string; bytes: Uint8Array }[],
  labelBytes: number,
  labelIndex: number,
  numClasses: number,
): ImageSplit {
  const recordBytes = labelBytes + IMAGE_BYTES;
  let count = 0;
  for (const { name, bytes } of chunks) {
    if (bytes.byteLength % recordBytes !== 0) {
      throw new DatasetError(
        `${name}: ${bytes.byteLength} bytes is not a whole number of ${recordBytes}-byte CIFAR records`,
      );
    }
    count += bytes.byteLength / recordBytes;
  }
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Int32Array(count);
  let n = 0;
  for (const { name, bytes } of chunks) {
    for (let start = 0; start < bytes.byteLength; start += recordBytes, n++) {
      const label = bytes[start + labelIndex];
      if (label >= numClasses) {
        throw new DatasetError(`${name}: record ${start / recordBytes} has label ${label} but there are ${numClasses} classes`);
      }
      labels[n] = label;
      const src = start + labelBytes;
      const dst = n * IMAGE_BYTES;
      for (let p = 0; p < PIXELS; p++) {
        images[dst + p * 3] = bytes[src + p];
        images[dst + p * 3 + 1] = bytes[src + PIXELS + p];
        images[dst + p * 3 + 2] = bytes[src + 2 * PIXELS + p];
      }
    }
  }
  return { images: tensor('uint8', [count, SIDE, SIDE, 3], images), labels };
}

function parseNames(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}

/**
 * Reads CIFAR-10 or CIFAR-100 from `path`: a `.tar.gz`, the extracted folder, or its parent.
 * `label` picks CIFAR-100's fine (100) or coarse (20) labels.
 */
export async function readCifar(
  variant: CifarVariant,
  path: string,
  options: { label?: Cifar100Label; signal?: AbortSignal } = {},
): Promise<ImageDataset> {
  const layout = layoutOf(variant, options.label ?? 'fine');
  const wanted = new Set([...layout.train, ...layout.test, layout.namesFile]);
  const contents = new Map<string, Buffer>();
  if (isArchive(path)) {
    const members = await readTarGzMembers(path, (m) => wanted.has(basename(m)), options.signal);
    for (const [member, bytes] of members) contents.set(basename(member), bytes);
  } else {
    const dir = batchDir(path, layout, variant);
    for (const name of wanted) {
      const file = join(dir, name);
      if (existsSync(file)) contents.set(name, await readFile(file));
    }
  }
  const missing = [...layout.train, ...layout.test].filter((f) => !contents.has(f));
  if (missing.length > 0) throw new DatasetError(`${variant} at ${path}: missing ${missing.join(', ')}`);

  const namesText = contents.get(layout.namesFile);
  const classes = namesText ? parseNames(namesText.toString('utf8')) : [...layout.defaultNames];
  if (classes.length !== layout.defaultNames.length) {
    throw new DatasetError(
      `${variant} at ${path}: ${layout.namesFile} lists ${classes.length} classes, expected ${layout.defaultNames.length}`,
    );
  }
  const split = (files: string[]): ImageSplit =>
    decodeCifarRecords(
      files.map((name) => ({ name, bytes: contents.get(name)! })),
      layout.labelBytes,
      layout.labelIndex,
      classes.length,
    );
  return { train: split(layout.train), test: split(layout.test), classes };
}

// Precomputed features (e.g. CLIP embeddings exported by another tool): a features array in an
// .npy or .safetensors file, plus labels from a second .npy or a tensor inside the safetensors.
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { decodeSafetensors } from '../runtime/store/safetensors.js';
import { tensor, type Tensor } from '../runtime/tensor.js';
import { DatasetError } from './errors.js';
import { decodeNpy } from './npy.js';
import type { FeatureDataset, FeatureSplit } from './types.js';

export interface FeatureFileSpec {
  /** Path of the features file (.npy or .safetensors). */
  file: string;
  /**
   * Labels: a path ending in `.npy`, or the name of a tensor inside the features' .safetensors
   * (default "labels").
   */
  labels?: string;
  /** Name of the features tensor inside a .safetensors file (default "features"). */
  featuresKey?: string;
}

const isNpy = (p: string): boolean => extname(p).toLowerCase() === '.npy';
const isSafetensors = (p: string): boolean => extname(p).toLowerCase() === '.safetensors';

function labelsAreFile(spec: FeatureFileSpec): boolean {
  return spec.labels !== undefined && isNpy(spec.labels);
}

/** Every local file reading `spec` touches (for cache keys). */
export function featureFiles(spec: FeatureFileSpec): string[] {
  return labelsAreFile(spec) ? [spec.file, spec.labels!] : [spec.file];
}

/** IEEE half-precision bits to a number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Converts a floating-point rank-2 tensor to float32 [N, D]. */
export function toFloat32Matrix(t: Tensor, name: string): Tensor<'float32'> {
  if (t.shape.length !== 2) throw new DatasetError(`${name}: features must be rank 2 [N, D], got shape [${t.shape.join(', ')}]`);
  if (t.dtype === 'float32') return t as Tensor<'float32'>;
  const out = new Float32Array(t.data.length);
  if (t.dtype === 'float64') out.set(t.data as Float64Array);
  else if (t.dtype === 'float16') {
    const src = t.data as Uint16Array;
    for (let i = 0; i < src.length; i++) out[i] = halfToFloat(src[i]);
  } else throw new DatasetError(`${name}: features must be float16, float32 or float64, got ${t.dtype}`);
  return tensor('float32', t.shape, out);
}

/** Converts an integer rank-1 tensor of class indices to Int32Array. */
export function toLabels(t: Tensor, name: string): Int32Array {
  if (t.shape.length !== 1) throw new DatasetError(`${name}: labels must be rank 1 [N], got shape [${t.shape.join(', ')}]`);
  if (!/^u?int/.test(t.dtype)) {
    throw new DatasetError(`${name}: labels must be an integer array, got ${t.dtype} (cast with a.astype("int64"))`);
  }
  const out = new Int32Array(t.shape[0]);
  for (let i = 0; i < out.length; i++) {
    const v = Number(t.data[i]);
    if (v < 0 || v > 0x7fffffff) throw new DatasetError(`${name}: label ${v} at index ${i} is not a valid class index`);
    out[i] = v;
  }
  return out;
}

export interface FeatureSplitWithMeta extends FeatureSplit {
  /** Class names found in the safetensors metadata (`classes`, a JSON array), if any. */
  classes?: string[];
}

/** Reads one split's features and labels. */
export async function readFeatureSplit(spec: FeatureFileSpec): Promise<FeatureSplitWithMeta> {
  const read = (p: string): Promise<Buffer> =>
    readFile(p).catch((e: Error) => {
      throw new DatasetError(`cannot read features file ${p}: ${e.message}`);
    });
  let features: Tensor;
  let labels: Tensor;
  let classes: string[] | undefined;
  if (isNpy(spec.file)) {
    if (!labelsAreFile(spec)) {
      throw new DatasetError(`features ${spec.file} is an .npy file, so its labels must be an .npy file too (got ${spec.labels ?? 'nothing'})`);
    }
    features = decodeNpy(await read(spec.file), spec.file);
    labels = decodeNpy(await read(spec.labels!), spec.labels!);
  } else if (isSafetensors(spec.file)) {
    const { tensors, metadata } = decodeSafetensors(await read(spec.file));
    const featuresKey = spec.featuresKey ?? 'features';
    const pick = (key: string): Tensor => {
      const t = tensors[key];
      if (!t) throw new DatasetError(`${spec.file} has no tensor "${key}" (it has ${Object.keys(tensors).join(', ') || 'none'})`);
      return t;
    };
    features = pick(featuresKey);
    if (labelsAreFile(spec)) labels = decodeNpy(await read(spec.labels!), spec.labels!);
    else labels = pick(spec.labels ?? 'labels');
    if (metadata.classes !== undefined) classes = parseClassesMetadata(metadata.classes, spec.file);
  } else {
    throw new DatasetError(`features file ${spec.file} must end in .npy or .safetensors`);
  }
  const out = { features: toFloat32Matrix(features, spec.file), labels: toLabels(labels, spec.labels ?? spec.file) };
  if (out.labels.length !== out.features.shape[0]) {
    throw new DatasetError(`${spec.file}: ${out.features.shape[0]} feature rows but ${out.labels.length} labels`);
  }
  return classes ? { ...out, classes } : out;
}

function parseClassesMetadata(text: string, file: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DatasetError(`${file}: metadata "classes" must be a JSON array of strings`);
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new DatasetError(`${file}: metadata "classes" must be a JSON array of strings`);
  }
  return value as string[];
}

/**
 * Reads train (and optionally test) features. Class names come from `classes`, else the train
 * file's safetensors metadata, else "0".."K-1" with K one past the largest label.
 */
export async function readFeatures(opts: {
  train: FeatureFileSpec;
  test?: FeatureFileSpec;
  classes?: readonly string[];
}): Promise<FeatureDataset> {
  const train = await readFeatureSplit(opts.train);
  const test = opts.test ? await readFeatureSplit(opts.test) : undefined;
  if (test && test.features.shape[1] !== train.features.shape[1]) {
    throw new DatasetError(`test features have ${test.features.shape[1]} dimensions but train features have ${train.features.shape[1]}`);
  }
  let maxLabel = -1;
  for (const split of [train, test]) if (split) for (const l of split.labels) maxLabel = Math.max(maxLabel, l);
  const classes = opts.classes ? [...opts.classes] : train.classes ?? Array.from({ length: maxLabel + 1 }, (_, i) => String(i));
  if (maxLabel >= classes.length) {
    throw new DatasetError(`labels go up to ${maxLabel} but only ${classes.length} class names are given`);
  }
  const strip = (s: FeatureSplitWithMeta): FeatureSplit => ({ features: s.features, labels: s.labels });
  return test ? { train: strip(train), test: strip(test), classes } : { train: strip(train), classes };
}

/**
 * An extra array beside the features: `source` is an `.npy` file (resolved against `dir`) or the
 * name of a tensor inside the train `.safetensors` file.
 */
export async function readNamedArray(source: string, dir: string, trainFile: string, what: string): Promise<Tensor> {
  if (isNpy(source)) {
    const path = resolve(dir, source);
    const bytes = await readFile(path).catch((e: Error) => {
      throw new DatasetError(`${what}: cannot read ${path}: ${e.message}`);
    });
    return decodeNpy(bytes, path);
  }
  if (!isSafetensors(trainFile)) {
    throw new DatasetError(`${what}: "${source}" is not an .npy file, and the train features ${trainFile} are not a .safetensors file to hold a tensor of that name`);
  }
  const bytes = await readFile(trainFile).catch((e: Error) => {
    throw new DatasetError(`${what}: cannot read ${trainFile}: ${e.message}`);
  });
  const { tensors } = decodeSafetensors(bytes);
  const t = tensors[source];
  if (!t) throw new DatasetError(`${what}: ${trainFile} has no tensor "${source}" (it has ${Object.keys(tensors).join(', ') || 'none'})`);
  return t;
}

/** The local files the extra arrays read (those given as .npy). */
export function namedArrayFiles(sources: readonly string[], dir: string): string[] {
  return sources.filter(isNpy).map((s) => resolve(dir, s));
}

/**
 * Class text features as float32 [K, P, D] (P prompts per class; a [K, D] array is read as P = 1),
 * checked against K classes and the image features' dimension D.
 */
export function toTextFeatures(t: Tensor, numClasses: number, dim: number, name: string): Tensor<'float32'> {
  const shape = t.shape.length === 2 ? [t.shape[0], 1, t.shape[1]] : [...t.shape];
  if (shape.length !== 3) throw new DatasetError(`${name}: text features must be [K, P, D] or [K, D], got shape [${t.shape.join(', ')}]`);
  if (shape[0] !== numClasses) throw new DatasetError(`${name}: text features have ${shape[0]} classes, the data has ${numClasses}`);
  if (shape[2] !== dim) throw new DatasetError(`${name}: text features have dimension ${shape[2]}, the image features ${dim}`);
  const flat = toFloat32Matrix({ ...t, shape: [shape[0] * shape[1], shape[2]] } as Tensor, name);
  return tensor('float32', shape, flat.data);
}

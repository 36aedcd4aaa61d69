// The `load` node: reads a data set (CIFAR, MNIST, an image folder, a manifest, precomputed
// features) or simulates CLIP features, then optionally carves a held-out test split and
// subsamples, both seeded and class-stratified. Every local file read joins the cache key.
import { mkdir, symlink } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { statSync } from 'node:fs';
import type { SyntheticTextSpec } from '../clip/synthetic-text.js';
import { cifarFiles, readCifar } from '../data/cifar.js';
import { DatasetError } from '../data/errors.js';
import { featureFiles, namedArrayFiles, readFeatures, readNamedArray, toLabels, toTextFeatures, type FeatureFileSpec } from '../data/features.js';
import { mnistFiles, readMnist } from '../data/idx.js';
import { listImageFolder, type FolderLayout } from '../data/image-folder.js';
import { readManifest } from '../data/manifest.js';
import { stratifiedHoldout, stratifiedSubsample, takeLabels, takeRows } from '../data/split.js';
import type { ImageDataset } from '../data/types.js';
import { SyntheticParamError, generateSyntheticClip, validateSyntheticOptions } from '../methods/synthetic.js';
import { createRng } from '../random/rng.js';
import { tensor, type Tensor } from '../runtime/tensor.js';
import { defineNode, type ExternalDep, type NodeContext, type OutputPort, type ParamProblem, type PortValue } from '../runtime/types/node-type.js';

export const SOURCES = ['cifar10', 'cifar100', 'mnist', 'fashion-mnist', 'image-folder', 'manifest', 'features', 'synthetic', 'synthetic-prompts'] as const;
export type Source = (typeof SOURCES)[number];

export interface LoadParams {
  source: Source;
  path?: string;
  url?: string;
  sha256?: string;
  files?: Record<string, { url: string; sha256: string }>;
  label?: 'fine' | 'coarse';
  resize?: number;
  exif_orientation?: boolean;
  classes?: string[];
  train?: string;
  test?: string;
  train_labels?: string;
  test_labels?: string;
  features_key?: string;
  text_features?: string;
  extra_labels?: Record<string, string>;
  num_classes?: number;
  dim?: number;
  train_per_class?: number;
  test_per_class?: number;
  zero_shot_accuracy?: number;
  linear_probe_accuracy?: number;
  lookalike_pairs?: number;
  text_model?: Partial<SyntheticTextSpec>;
  template?: string;
  shift?: number;
  noise?: number;
  max_train?: number;
  max_test?: number;
  holdout: number;
}

/** A bad combination of params; the message names the param. */
export class LoadParamError extends Error {
  override name = 'LoadParamError';
}

const IMAGE_SOURCES: readonly Source[] = ['cifar10', 'cifar100', 'mnist', 'fashion-mnist', 'image-folder', 'manifest'];
const URL_SOURCES: readonly Source[] = ['cifar10', 'cifar100'];
const SYNTHETIC_PARAMS = ['dim', 'zero_shot_accuracy', 'linear_probe_accuracy', 'lookalike_pairs'] as const;
/** Params of both simulated sources. */
const SHARED_SYNTHETIC_PARAMS = ['num_classes', 'train_per_class', 'test_per_class'] as const;
/** Params of the synthetic prompt-learning source. */
const PROMPT_SYNTHETIC_PARAMS = ['text_model', 'template', 'shift', 'noise'] as const;
const PROMPT_SYNTHETIC_DEFAULTS = { num_classes: 10, train_per_class: 64, test_per_class: 100, template: 'a photo of a', shift: 3, noise: 0.5 };
/** Params that only some sources understand (the rest apply to all). */
const SOURCE_PARAMS: Record<string, readonly Source[]> = {
  label: ['cifar100'],
  resize: ['image-folder', 'manifest'],
  exif_orientation: ['image-folder', 'manifest'],
  classes: ['manifest', 'features'],
  files: ['mnist', 'fashion-mnist'],
  train: ['features'],
  test: ['features'],
  train_labels: ['features'],
  test_labels: ['features'],
  features_key: ['features'],
  text_features: ['features'],
  extra_labels: ['features'],
  ...Object.fromEntries(SYNTHETIC_PARAMS.map((p) => [p, ['synthetic'] as const])),
  ...Object.fromEntries(SHARED_SYNTHETIC_PARAMS.map((p) => [p, ['synthetic', 'synthetic-prompts'] as const])),
  ...Object.fromEntries(PROMPT_SYNTHETIC_PARAMS.map((p) => [p, ['synthetic-prompts'] as const])),
};

const SYNTHETIC_DEFAULTS = {
  num_classes: 10, dim: 64, train_per_class: 500, test_per_class: 100,
  zero_shot_accuracy: 0.7, linear_probe_accuracy: 0.9, lookalike_pairs: 2,
};

const isImageSource = (s: Source): boolean => IMAGE_SOURCES.includes(s);

function checkParams(p: LoadParams): void {
  for (const [param, sources] of Object.entries(SOURCE_PARAMS)) {
    if ((p as unknown as Record<string, unknown>)[param] !== undefined && !sources.includes(p.source)) {
      throw new LoadParamError(`param "${param}" does not apply to source "${p.source}" (only to ${sources.join(', ')})`);
    }
  }
  if (p.files !== undefined && p.url !== undefined) throw new LoadParamError('give either "files" or "url", not both');
  for (const name of Object.keys(p.files ?? {})) {
    if (basename(name) !== name || name === '.' || name === '..') throw new LoadParamError(`"files" keys are file names, not paths: "${name}"`);
  }
  if (p.url !== undefined) {
    if (!URL_SOURCES.includes(p.source)) {
      throw new LoadParamError(`param "url" applies to single-archive sources (${URL_SOURCES.join(', ')}), not "${p.source}"; download the files and set "path"`);
    }
    if (p.sha256 === undefined) throw new LoadParamError('param "url" needs "sha256" (the expected checksum of the file)');
    if (p.path !== undefined) throw new LoadParamError('give either "path" or "url", not both');
  } else if (p.sha256 !== undefined) {
    throw new LoadParamError('param "sha256" only applies together with "url"');
  }
  if (p.source === 'synthetic' || p.source === 'synthetic-prompts') {
    if (p.path !== undefined) throw new LoadParamError(`source "${p.source}" reads no files; remove "path"`);
  } else if (p.source === 'features') {
    if (p.train === undefined) throw new LoadParamError('source "features" needs "train" (the train features file, .npy or .safetensors)');
  } else if (p.path === undefined && p.url === undefined && p.files === undefined) {
    throw new LoadParamError(`source "${p.source}" needs "path" (or ${p.source.includes('mnist') ? '"files"' : '"url"'})`);
  }
}

/** The synthetic options `p` asks for, defaults filled in. */
function syntheticOptions(p: LoadParams) {
  return { ...SYNTHETIC_DEFAULTS, ...Object.fromEntries([...SYNTHETIC_PARAMS, ...SHARED_SYNTHETIC_PARAMS].filter((k) => p[k] !== undefined).map((k) => [k, p[k]])) } as typeof SYNTHETIC_DEFAULTS;
}

/** Elements a typed array can hold at most (2^31 − 1 in V8 for the sizes that matter here). */
const MAX_ELEMENTS = 2 ** 31 - 1;

/** What planning can check: param combinations, synthetic sizes, and that the named files exist. */
function staticCheck(p: LoadParams, baseDir: string, files: boolean): ParamProblem[] {
  try {
    checkParams(p);
  } catch (e) {
    const param = /param "([a-z_0-9]+)"/.exec((e as Error).message)?.[1] ?? /source "[a-z-]+" (?:reads no files; remove|needs) "([a-z_]+)"/.exec((e as Error).message)?.[1];
    return [{ path: param && param in p ? [param] : ['source'], message: (e as Error).message }];
  }
  if (p.source === 'synthetic') {
    const o = syntheticOptions(p);
    try {
      validateSyntheticOptions({
        numClasses: o.num_classes, dim: o.dim, trainPerClass: o.train_per_class, testPerClass: o.test_per_class,
        zeroShotAccuracy: o.zero_shot_accuracy, linearProbeAccuracy: o.linear_probe_accuracy, lookalikePairs: o.lookalike_pairs, seed: 0,
      });
    } catch (e) {
      if (!(e instanceof SyntheticParamError)) throw e;
      const param = /^synthetic: ([a-z_]+)/.exec(e.message)?.[1] ?? 'source';
      // A default that does not fit another param is reported at the param that was set.
      const at = param in p ? param : param === 'lookalike_pairs' ? 'num_classes' : param === 'zero_shot_accuracy' || param === 'linear_probe_accuracy' ? (['linear_probe_accuracy', 'zero_shot_accuracy', 'num_classes'].find((k) => k in p) ?? param) : param;
      const note = param in p ? '' : ` (${param} is ${String((o as Record<string, number>)[param])}, its default)`;
      return [{ path: [at], message: `${e.message}${note}` }];
    }
    const elements = o.num_classes * (o.train_per_class + o.test_per_class) * o.dim;
    if (elements > MAX_ELEMENTS) {
      return [{ path: ['train_per_class' in p ? 'train_per_class' : 'num_classes'], message: `synthetic: ${o.num_classes} classes × ${o.train_per_class + o.test_per_class} samples × ${o.dim} dimensions is ${elements.toExponential(2)} features, more than one tensor holds (${MAX_ELEMENTS})` }];
    }
    return [];
  }
  // Downloads (url, or files without a local path) and synthetic-prompts read nothing local yet.
  if (p.url !== undefined || (p.files !== undefined && p.path === undefined) || p.source === 'synthetic-prompts' || !files) return [];
  // The files the source reads: there, and a file or a directory as the source expects.
  const root = resolve(baseDir, p.path ?? '.');
  const kind = (path: string): 'file' | 'dir' | undefined => {
    const st = statSync(path, { throwIfNoEntry: false });
    return st === undefined ? undefined : st.isDirectory() ? 'dir' : 'file';
  };
  const expect = (param: string, path: string, want: 'file' | 'dir' | 'any'): ParamProblem[] => {
    const got = kind(path);
    if (got === undefined) return [{ path: [param], message: `${path} does not exist` }];
    if (want !== 'any' && got !== want) return [{ path: [param], message: `${path} is a ${got === 'dir' ? 'directory' : 'file'}, but source "${p.source}" expects a ${want === 'dir' ? 'directory' : 'file'} here` }];
    return [];
  };
  switch (p.source) {
    case 'cifar10':
    case 'cifar100':
      return expect('path', root, 'any');
    case 'mnist':
    case 'fashion-mnist':
    case 'image-folder':
      return expect('path', root, 'dir');
    case 'manifest':
      return expect('path', root, 'file');
    case 'features': {
      const specs = featureSpecs(p, baseDir);
      const out = p.path !== undefined ? expect('path', root, 'dir') : [];
      if (out.length) return out;
      out.push(...expect('train', specs.train.file, 'file'));
      if (specs.test) out.push(...expect('test', specs.test.file, 'file'));
      for (const [param, labels] of [['train_labels', specs.train.labels], ['test_labels', specs.test?.labels]] as const) {
        if (labels !== undefined && labels.toLowerCase().endsWith('.npy')) out.push(...expect(param, labels, 'file'));
      }
      return out;
    }
  }
}

/** Features file specs for the `features` source, with paths resolved. */
function featureSpecs(p: LoadParams, baseDir: string): { train: FeatureFileSpec; test?: FeatureFileSpec } {
  const dir = resolve(baseDir, p.path ?? '.');
  const spec = (file: string, labels: string | undefined): FeatureFileSpec => ({
    file: resolve(dir, file),
    labels: labels !== undefined && labels.toLowerCase().endsWith('.npy') ? resolve(dir, labels) : labels,
    featuresKey: p.features_key,
  });
  return {
    train: spec(p.train!, p.train_labels),
    test: p.test !== undefined ? spec(p.test, p.test_labels) : undefined,
  };
}

/** The local files a load of `p` reads (none for synthetic data or downloads, whose sha256 is in the params). */
async function localFiles(p: LoadParams, baseDir: string): Promise<string[]> {
  // Downloads, and files pinned by `files`, have their sha256 in the params already.
  if (p.source === 'synthetic' || p.source === 'synthetic-prompts' || p.url !== undefined || p.files !== undefined) return [];
  const path = resolve(baseDir, p.path ?? '.');
  switch (p.source) {
    case 'cifar10':
    case 'cifar100':
      return cifarFiles(p.source, path, p.label ?? 'fine');
    case 'mnist':
    case 'fashion-mnist':
      return mnistFiles(p.source, path);
    case 'image-folder': {
      const layout = await listImageFolder(path);
      return [...layout.train.files, ...(layout.test?.files ?? [])];
    }
    case 'manifest': {
      const layout = await readManifest(path, p.classes);
      return [path, ...layout.train.files, ...(layout.test?.files ?? [])];
    }
    case 'features': {
      const specs = featureSpecs(p, baseDir);
      const extra = namedArrayFiles([...(p.text_features ? [p.text_features] : []), ...Object.values(p.extra_labels ?? {})], path);
      return [...featureFiles(specs.train), ...(specs.test ? featureFiles(specs.test) : []), ...extra];
    }
  }
}

interface Split {
  x: Tensor;
  labels: Int32Array;
  /** Extra per-sample label arrays (features source), kept row for row with `x`. */
  extra?: Record<string, Int32Array>;
}
interface Loaded {
  train: Split;
  test?: Split;
  classes: string[];
  textFeatures?: Tensor<'float32'>;
}

/**
 * The folder holding `files`: `path` when given (each file checked against its sha256), else a
 * scratch folder linking to the verified downloads.
 */
async function pinnedFiles(ctx: NodeContext<LoadParams>, files: NonNullable<LoadParams['files']>): Promise<string> {
  const { downloadFile, sha256OfFile } = await import('../io/download.js');
  if (ctx.params.path !== undefined) {
    const dir = resolve(ctx.baseDir, ctx.params.path);
    for (const [name, f] of Object.entries(files)) {
      const local = join(dir, name);
      const actual = await sha256OfFile(local).catch((e: NodeJS.ErrnoException) => {
        throw new LoadParamError(`"files" names ${name}, but ${local} cannot be read (${e.code ?? e.message}); remove "path" to download it`);
      });
      if (actual !== f.sha256.toLowerCase()) throw new LoadParamError(`${local} has sha256 ${actual}, but "files" pins ${f.sha256}`);
    }
    ctx.log(`read ${Object.keys(files).length} pinned file(s) from ${dir}`);
    return dir;
  }
  const dir = join(ctx.scratchDir, 'files');
  await mkdir(dir, { recursive: true });
  for (const [name, f] of Object.entries(files)) {
    ctx.log(`downloading ${f.url}`);
    const local = await downloadFile({
      url: f.url, sha256: f.sha256, fileName: name, signal: ctx.signal,
      onProgress: (received, total) => ctx.progress(received, total, `bytes of ${name}`),
    });
    await symlink(local, join(dir, name));
  }
  return dir;
}

async function dataPath(ctx: NodeContext<LoadParams>): Promise<string> {
  const p = ctx.params;
  if (p.files !== undefined) return pinnedFiles(ctx, p.files);
  if (p.url === undefined) return resolve(ctx.baseDir, p.path ?? '.');
  const { downloadFile } = await import('../io/download.js');
  ctx.log(`downloading ${p.url}`);
  return downloadFile({
    url: p.url,
    sha256: p.sha256!,
    signal: ctx.signal,
    onProgress: (received, total) => ctx.progress(received, total, 'bytes'),
  });
}

async function decodeLayout(ctx: NodeContext<LoadParams>, layout: FolderLayout): Promise<Loaded> {
  const { decodeImages } = await import('../data/images.js'); // sharp loads only when needed
  const total = layout.train.files.length + (layout.test?.files.length ?? 0);
  const options = (offset: number) => ({
    resize: ctx.params.resize,
    exifOrientation: ctx.params.exif_orientation ?? false,
    signal: ctx.signal,
    onProgress: (done: number) => ctx.progress(offset + done, total, 'images'),
  });
  const train = { x: await decodeImages(layout.train.files, options(0)), labels: layout.train.labels };
  const test = layout.test
    ? { x: await decodeImages(layout.test.files, options(layout.train.files.length)), labels: layout.test.labels }
    : undefined;
  return { train, test, classes: layout.classes };
}

/** Image features around the text features of a hidden prompt on the random-weight text model (src/methods/prompt/synthetic.ts). */
async function loadSyntheticPrompts(ctx: NodeContext<LoadParams>): Promise<Loaded> {
  const p = ctx.params;
  const o = { ...PROMPT_SYNTHETIC_DEFAULTS, ...Object.fromEntries([...SHARED_SYNTHETIC_PARAMS, 'template', 'shift', 'noise'].filter((k) => p[k as keyof LoadParams] !== undefined).map((k) => [k, p[k as keyof LoadParams]])) };
  const [{ selectBackend }, { ClipTextModel }, { syntheticTextWeights, syntheticTokenizer }, { generateSyntheticPrompts }] = await Promise.all([
    import('../methods/train/backend.js'), import('../clip/text-model.js'), import('../clip/synthetic-text.js'), import('../methods/prompt/synthetic.js'),
  ]);
  // The plain-JavaScript backend: the data must not depend on which accelerated backend is installed.
  const { tf } = await selectBackend('cpu');
  const model = new ClipTextModel(tf, syntheticTextWeights(p.text_model ?? {}));
  try {
    const s = generateSyntheticPrompts(tf, model, syntheticTokenizer(), {
      numClasses: o.num_classes as number, trainPerClass: o.train_per_class as number, testPerClass: o.test_per_class as number,
      template: o.template as string, shift: o.shift as number, noise: o.noise as number, seed: ctx.seed,
    });
    const k = s.classes.length;
    return {
      train: { x: tensor('float32', [s.trainLabels.length, s.dim], s.trainFeatures), labels: s.trainLabels },
      test: { x: tensor('float32', [s.testLabels.length, s.dim], s.testFeatures), labels: s.testLabels },
      classes: s.classes,
      textFeatures: tensor('float32', [k, 1, s.dim], s.textFeatures),
    };
  } finally {
    model.dispose();
  }
}

async function loadSource(ctx: NodeContext<LoadParams>): Promise<Loaded> {
  const p = ctx.params;
  if (p.source === 'synthetic') {
    const o = syntheticOptions(p);
    const s = generateSyntheticClip({
      numClasses: o.num_classes, dim: o.dim, trainPerClass: o.train_per_class, testPerClass: o.test_per_class,
      zeroShotAccuracy: o.zero_shot_accuracy, linearProbeAccuracy: o.linear_probe_accuracy,
      lookalikePairs: o.lookalike_pairs, seed: ctx.seed,
    });
    ctx.note('synthetic', {
      noise_scale: s.noiseScale, text_angle: s.textAngle, lookalike_pairs: s.lookalikePairs,
      calibrated_linear_probe_accuracy: s.calibratedLinearProbeAccuracy, calibrated_zero_shot_accuracy: s.calibratedZeroShotAccuracy,
    });
    return {
      train: { x: s.trainFeatures, labels: s.trainLabels },
      test: { x: s.testFeatures, labels: s.testLabels },
      classes: s.classes,
      textFeatures: s.textFeatures,
    };
  }
  if (p.source === 'synthetic-prompts') return loadSyntheticPrompts(ctx);
  if (p.source === 'features') {
    const specs = featureSpecs(p, ctx.baseDir);
    const ds = await readFeatures({ ...specs, classes: p.classes });
    const split = (s: { features: Tensor<'float32'>; labels: Int32Array }): Split => ({ x: s.features, labels: s.labels });
    const dir = resolve(ctx.baseDir, p.path ?? '.');
    const train = split(ds.train);
    const n = train.labels.length;
    if (p.extra_labels) {
      train.extra = {};
      for (const [name, source] of Object.entries(p.extra_labels)) {
        const labels = toLabels(await readNamedArray(source, dir, specs.train.file, `extra_labels.${name}`), `extra_labels.${name}`);
        if (labels.length !== n) throw new DatasetError(`extra_labels.${name}: ${labels.length} labels, the train features have ${n} rows`);
        for (const y of labels) if (y >= ds.classes.length) throw new DatasetError(`extra_labels.${name}: label ${y} but only ${ds.classes.length} classes`);
        train.extra[name] = labels;
      }
    }
    const textFeatures = p.text_features
      ? toTextFeatures(await readNamedArray(p.text_features, dir, specs.train.file, 'text_features'), ds.classes.length, ds.train.features.shape[1], 'text_features')
      : undefined;
    return { train, test: ds.test ? split(ds.test) : undefined, classes: ds.classes, ...(textFeatures ? { textFeatures } : {}) };
  }
  const path = await dataPath(ctx);
  const fromImages = (ds: ImageDataset): Loaded => ({
    train: { x: ds.train.images, labels: ds.train.labels },
    test: ds.test ? { x: ds.test.images, labels: ds.test.labels } : undefined,
    classes: ds.classes,
  });
  switch (p.source) {
    case 'cifar10':
    case 'cifar100':
      return fromImages(await readCifar(p.source, path, { label: p.label ?? 'fine', signal: ctx.signal }));
    case 'mnist':
    case 'fashion-mnist':
      return fromImages(await readMnist(p.source, path));
    case 'image-folder':
      return decodeLayout(ctx, await listImageFolder(path));
    case 'manifest':
      return decodeLayout(ctx, await readManifest(path, p.classes));
  }
}

function take(split: Split, indices: Int32Array): Split {
  const out: Split = { x: takeRows(split.x, indices), labels: takeLabels(split.labels, indices) };
  if (split.extra) out.extra = Object.fromEntries(Object.entries(split.extra).map(([k, v]) => [k, takeLabels(v, indices)]));
  return out;
}

/** Applies `holdout`, then `max_train` / `max_test`. */
function reshape(ctx: NodeContext<LoadParams>, data: Loaded): { train: Split; test: Split } {
  const p = ctx.params;
  let { train, test } = data;
  if (p.holdout > 0) {
    if (test) {
      throw new LoadParamError(
        `param "holdout" carves a test split from sources that have only one, but this ${p.source} data already has a test split of ${test.labels.length}; remove "holdout"`,
      );
    }
    const { keep, holdout } = stratifiedHoldout(train.labels, p.holdout, createRng(ctx.seed, 'load/holdout'));
    test = take(train, holdout);
    train = take(train, keep);
    ctx.log(`held out ${holdout.length} of ${keep.length + holdout.length} train samples as the test split`);
  } else if (!test) {
    throw new DatasetError(
      `this ${p.source} data has a single split (${train.labels.length} samples); set "holdout" (e.g. 0.2) to carve a test split from it`,
    );
  }
  if (p.max_train !== undefined) train = take(train, stratifiedSubsample(train.labels, p.max_train, createRng(ctx.seed, 'load/max_train')));
  if (p.max_test !== undefined) test = take(test, stratifiedSubsample(test.labels, p.max_test, createRng(ctx.seed, 'load/max_test')));
  return { train, test };
}

function outputPorts(p: LoadParams): Record<string, OutputPort> {
  const labels = { kind: 'tensor', dtype: 'int32', rank: 1 } as const;
  const common: Record<string, OutputPort> = {
    train_labels: { ...labels, description: 'Train labels [N]' },
    test_labels: { ...labels, description: 'Test labels [N]' },
    classes: { kind: 'json', description: 'Class names (string[]), indexed by label' },
  };
  if (isImageSource(p.source)) {
    return {
      train_images: { kind: 'tensor', dtype: 'uint8', rank: 4, description: 'Train images, uint8 NHWC' },
      test_images: { kind: 'tensor', dtype: 'uint8', rank: 4, description: 'Test images, uint8 NHWC' },
      ...common,
    };
  }
  const features: Record<string, OutputPort> = {
    train_features: { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Train features [N, D]' },
    test_features: { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Test features [N, D]' },
    ...common,
  };
  if (p.source === 'synthetic' || p.source === 'synthetic-prompts') {
    features.text_features = { kind: 'tensor', dtype: 'float32', rank: 3, description: 'Class text embeddings [K, 1, D] (simulated; synthetic-prompts: of the handcrafted template)' };
  }
  if (p.source === 'features' && p.text_features !== undefined) {
    features.text_features = { kind: 'tensor', dtype: 'float32', rank: 3, description: 'Class text embeddings [K, P, D] (from text_features)' };
  }
  for (const name of Object.keys(p.extra_labels ?? {})) {
    if (name in features) throw new LoadParamError(`extra_labels.${name}: "${name}" is already an output of load; choose another name`);
    features[name] = { kind: 'tensor', dtype: 'int32', rank: 1, description: `Per-sample labels of the train split [N] (extra_labels.${name})` };
  }
  return features;
}

const integer = (min: number, max: number, description: string) => ({ type: 'integer', minimum: min, maximum: max, description });
const probability = (description: string) => ({ type: 'number', minimum: 0, maximum: 1, description });

export default defineNode<LoadParams>({
  type: 'load',
  version: '2',
  description:
    'Loads a data set (CIFAR-10/100 binary, (Fashion-)MNIST idx, image folder, CSV/JSONL manifest, precomputed .npy/.safetensors features) or simulates CLIP features; optional stratified holdout and subsampling.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['source'],
    properties: {
      source: { enum: [...SOURCES], description: 'What to read.' },
      path: { type: 'string', minLength: 1, description: 'File or folder, relative to the pipeline: a CIFAR .tar.gz or folder, the idx folder, the image folder, the manifest, or the folder holding the features files.' },
      url: { type: 'string', minLength: 1, description: 'Download the CIFAR archive from here instead of reading path (needs sha256).' },
      sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description: 'Expected sha256 of the file at url.' },
      files: {
        type: 'object', minProperties: 1,
        description: 'mnist, fashion-mnist: the idx files by name, each with its url and sha256: downloaded once into the download cache and verified. With "path" too, they are read from that folder instead (checked against the same sha256; not part of the key).',
        additionalProperties: {
          type: 'object', additionalProperties: false, required: ['url', 'sha256'],
          properties: { url: { type: 'string', minLength: 1 }, sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' } },
        },
      },
      label: { enum: ['fine', 'coarse'], description: 'cifar100: fine (100 classes, default) or coarse (20 super-classes) labels.' },
      resize: integer(
        1,
        4096,
        "image-folder, manifest: resize the shortest edge to this (Pillow bicubic) and centre-crop a square of it, CLIP's own geometry (for memory; leave it out for CLIP, whose embed resizes exactly). Default: images keep their size, which must then be the same for all.",
      ),
      exif_orientation: { type: 'boolean', description: 'image-folder, manifest: apply the EXIF orientation (off by default, as Pillow and the CLIP references).' },
      classes: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'manifest, features: class names in label order (labels may then be names or indices).' },
      train: { type: 'string', minLength: 1, description: 'features: train features file (.npy or .safetensors), relative to path.' },
      test: { type: 'string', minLength: 1, description: 'features: test features file; without it set holdout.' },
      train_labels: { type: 'string', minLength: 1, description: 'features: train labels, an .npy file relative to path or a tensor name in the train .safetensors (default "labels").' },
      test_labels: { type: 'string', minLength: 1, description: 'features: test labels, as train_labels.' },
      features_key: { type: 'string', minLength: 1, description: 'features: name of the features tensor in a .safetensors file (default "features").' },
      text_features: {
        type: 'string', minLength: 1,
        description: 'features: class text embeddings [K, P, D] (or [K, D]), an .npy file relative to path or a tensor name in the train .safetensors; output as text_features.',
      },
      extra_labels: {
        type: 'object', propertyNames: { pattern: '^[a-z][a-z0-9_]*$' }, additionalProperties: { type: 'string', minLength: 1 },
        description: 'features: more per-sample label arrays of the train split, e.g. {true_labels: true.npy}: each an .npy file relative to path or a tensor name in the train .safetensors, output under its name and kept row for row through holdout and max_train.',
      },
      num_classes: integer(2, 100_000, `synthetic, synthetic-prompts: number of classes K (default ${SYNTHETIC_DEFAULTS.num_classes}; synthetic-prompts: at most 47, DTD's names).`),
      dim: integer(2, 65_536, `synthetic: feature dimension D (default ${SYNTHETIC_DEFAULTS.dim}).`),
      train_per_class: integer(1, 1_000_000, `synthetic, synthetic-prompts: train samples per class (default ${SYNTHETIC_DEFAULTS.train_per_class}; synthetic-prompts ${PROMPT_SYNTHETIC_DEFAULTS.train_per_class}).`),
      test_per_class: integer(0, 1_000_000, `synthetic, synthetic-prompts: test samples per class (default ${SYNTHETIC_DEFAULTS.test_per_class}).`),
      zero_shot_accuracy: probability(`synthetic: target zero-shot accuracy of the text embeddings (default ${SYNTHETIC_DEFAULTS.zero_shot_accuracy}).`),
      linear_probe_accuracy: probability(`synthetic: target accuracy of the best linear classifier (default ${SYNTHETIC_DEFAULTS.linear_probe_accuracy}).`),
      lookalike_pairs: integer(0, 50_000, `synthetic: class pairs with close prototypes (default ${SYNTHETIC_DEFAULTS.lookalike_pairs}).`),
      text_model: {
        type: 'object', additionalProperties: false,
        description: 'synthetic-prompts: the random-weight text model (as prompt-tune\'s model: {synthetic: ...}); use the same spec in both.',
        properties: {
          width: { type: 'integer', minimum: 1, maximum: 65_536 }, layers: { type: 'integer', minimum: 1, maximum: 1_024 }, heads: { type: 'integer', minimum: 1, maximum: 1_024 },
          embed_dim: { type: 'integer', minimum: 1, maximum: 65_536 }, seed: { type: 'integer', minimum: 0, maximum: 4_294_967_295 },
        },
      },
      template: { type: 'string', minLength: 1, description: `synthetic-prompts: the handcrafted context words the hidden prompt is drawn around (default "${PROMPT_SYNTHETIC_DEFAULTS.template}").` },
      shift: { type: 'number', minimum: 0, description: `synthetic-prompts: distance of the hidden context from the template, in units of 0.02 per value (default ${PROMPT_SYNTHETIC_DEFAULTS.shift}).` },
      noise: { type: 'number', minimum: 0, description: `synthetic-prompts: σ of the image features around the true class text feature (default ${PROMPT_SYNTHETIC_DEFAULTS.noise}).` },
      max_train: integer(1, 100_000_000, 'Keep at most this many train samples (seeded, class-stratified).'),
      max_test: integer(1, 100_000_000, 'Keep at most this many test samples (seeded, class-stratified).'),
      holdout: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0, description: 'Fraction of the train split moved to a test split (seeded, stratified); for sources with a single split.' },
    },
  },
  ports: (params) => ({ inputs: {}, outputs: outputPorts(params) }),
  // Files pinned by sha256 are the same bytes wherever they are read from.
  executionOnly: (params) => (params.files !== undefined ? ['path'] : []),
  check: (params, ctx) => staticCheck(params, ctx.baseDir, ctx.files),
  resources: { cpus: 1, memory: '2G' },
  async fingerprint(ctx) {
    checkParams(ctx.params);
    const files = await localFiles(ctx.params, ctx.baseDir);
    return Promise.all(
      files.map(async (path): Promise<ExternalDep> => {
        const { sha256, size } = await ctx.hashFile(path);
        return { name: `data:${relative(ctx.baseDir, path) || path}`, path, sha256, size };
      }),
    );
  },
  async run(ctx) {
    checkParams(ctx.params);
    const data = await loadSource(ctx);
    const { train, test } = reshape(ctx, data);
    const kind = isImageSource(ctx.params.source) ? 'images' : 'features';
    ctx.log(`${ctx.params.source}: ${train.labels.length} train, ${test.labels.length} test, ${data.classes.length} classes`);
    const out: Record<string, PortValue> = {
      [`train_${kind}`]: train.x,
      [`test_${kind}`]: test.x,
      train_labels: tensor('int32', [train.labels.length], train.labels),
      test_labels: tensor('int32', [test.labels.length], test.labels),
      classes: data.classes,
    };
    if (data.textFeatures) out.text_features = data.textFeatures;
    for (const [name, labels] of Object.entries(train.extra ?? {})) out[name] = tensor('int32', [labels.length], labels);
    return out;
  },
});

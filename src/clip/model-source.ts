// Where a CLIP model's files come from: a local directory in the layout of the Hugging Face ONNX
// exports (onnx/vision_model.onnx or vision_model.onnx, with _fp16 / _quantized variants, plus
// tokenizer.json and preprocessor_config.json), or a set of URLs with sha256 checksums that are
// downloaded (and verified) into the download cache.
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { downloadFile, sha256OfFile } from '../io/download.js';

export type Variant = 'fp32' | 'fp16' | 'int8';

export interface RemoteFile {
  url: string;
  sha256: string;
}

export interface RemoteModelFiles {
  vision: RemoteFile;
  text?: RemoteFile;
  tokenizer?: RemoteFile;
  preprocessor?: RemoteFile;
}

export type ModelSpec = { dir: string } | { files: RemoteModelFiles };

/** Local paths of the files a model run reads. */
export interface ModelFiles {
  vision: string;
  text?: string;
  tokenizer?: string;
  preprocessor?: string;
}

export class ModelSourceError extends Error {
  override name = 'ModelSourceError';
}

/** File-name suffixes per variant, in order of preference (names used by HF / transformers.js exports). */
const VARIANT_SUFFIXES: Record<Variant, readonly string[]> = {
  fp32: [''],
  fp16: ['_fp16'],
  int8: ['_quantized', '_int8', '_uint8'],
};

const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json', 'bpe_simple_vocab_16e6.txt.gz'] as const;

function candidates(dir: string, tower: 'vision' | 'text', variant: Variant): string[] {
  return VARIANT_SUFFIXES[variant].flatMap((suffix) => [
    join(dir, 'onnx', `${tower}_model${suffix}.onnx`),
    join(dir, `${tower}_model${suffix}.onnx`),
  ]);
}

function firstExisting(paths: readonly string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

/** The files of a local model directory that exist for this variant; throws when there is no vision model. */
export function findModelFiles(dir: string, variant: Variant): ModelFiles {
  if (!existsSync(dir)) throw new ModelSourceError(`model directory ${dir} does not exist`);
  const tried = candidates(dir, 'vision', variant);
  const vision = firstExisting(tried);
  if (!vision) {
    throw new ModelSourceError(`no ${variant} vision model in ${dir}: looked for ${tried.map((p) => p.slice(dir.length + 1)).join(', ')}`);
  }
  const tokenizer = firstExisting(TOKENIZER_FILES.map((name) => join(dir, name)));
  const preprocessor = firstExisting([join(dir, 'preprocessor_config.json')]);
  return { vision, text: firstExisting(candidates(dir, 'text', variant)), tokenizer, preprocessor };
}

export function isRemoteSpec(spec: ModelSpec): spec is { files: RemoteModelFiles } {
  return 'files' in spec;
}

function checkSpec(spec: unknown): asserts spec is ModelSpec {
  if (spec && typeof spec === 'object') {
    if (typeof (spec as { dir?: unknown }).dir === 'string') return;
    const files = (spec as { files?: Record<string, unknown> }).files;
    if (files && typeof files === 'object' && files.vision) return;
  }
  throw new ModelSourceError(
    `model must be {dir: "<path>"} or {files: {vision: {url, sha256}, text?, tokenizer?, preprocessor?}}, got ${JSON.stringify(spec)}`,
  );
}

/** The directory of a local spec, resolved against `baseDir`. */
export function modelDir(spec: { dir: string }, baseDir: string): string {
  return resolve(baseDir, spec.dir);
}

export interface ResolveOptions {
  variant: Variant;
  /** Directory relative paths resolve against (the pipeline file's). */
  baseDir: string;
  /** Whether the text encoder and tokenizer are needed. */
  needText: boolean;
  /** Download cache root for remote files. */
  downloadDir?: string;
  signal?: AbortSignal;
  onDownload?(file: string, received: number, total: number | undefined): void;
}

/** Local paths for every file the run needs, downloading remote ones; fails clearly on what is missing. */
export async function resolveModelFiles(spec: ModelSpec, options: ResolveOptions): Promise<ModelFiles> {
  checkSpec(spec);
  let files: ModelFiles;
  if (isRemoteSpec(spec)) {
    const fetchOne = async (role: keyof RemoteModelFiles): Promise<string | undefined> => {
      const remote = spec.files[role];
      if (!remote) return undefined;
      return downloadFile({
        url: remote.url,
        sha256: remote.sha256,
        dir: options.downloadDir,
        signal: options.signal,
        onProgress: (received, total) => options.onDownload?.(role, received, total),
      });
    };
    files = {
      vision: (await fetchOne('vision'))!,
      text: options.needText ? await fetchOne('text') : undefined,
      tokenizer: options.needText ? await fetchOne('tokenizer') : undefined,
      preprocessor: await fetchOne('preprocessor'),
    };
  } else {
    files = findModelFiles(modelDir(spec, options.baseDir), options.variant);
  }
  if (options.needText) {
    const where = isRemoteSpec(spec) ? 'model.files' : modelDir(spec, options.baseDir);
    if (!files.text) {
      const looked = isRemoteSpec(spec) ? 'model.files.text is not given' : `looked for ${candidates(where, 'text', options.variant).join(', ')}`;
      throw new ModelSourceError(`text features need a ${options.variant} text model, but ${where} has none (${looked})`);
    }
    if (!files.tokenizer) {
      throw new ModelSourceError(`text features need a tokenizer, but ${where} has none (${TOKENIZER_FILES.join(', ')})`);
    }
  }
  return files;
}

/**
 * The local files a spec reads, without downloading, for cache keys: every present file of a
 * directory model. Remote files are pinned by the sha256 in the params, so they need no entry.
 */
export function localModelFiles(spec: ModelSpec, variant: Variant, baseDir: string): ModelFiles | undefined {
  checkSpec(spec);
  return isRemoteSpec(spec) ? undefined : findModelFiles(modelDir(spec, baseDir), variant);
}

const digests = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

/** sha256 and size of a model file, memoised by path, size and mtime (models are hundreds of MB). */
export async function fileDigest(path: string): Promise<{ sha256: string; size: number }> {
  const s = await stat(path);
  const hit = digests.get(path);
  if (hit && hit.size === s.size && hit.mtimeMs === s.mtimeMs) return { sha256: hit.sha256, size: s.size };
  const sha256 = await sha256OfFile(path);
  digests.set(path, { size: s.size, mtimeMs: s.mtimeMs, sha256 });
  return { sha256, size: s.size };
}

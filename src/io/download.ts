// Verified downloads into a content-addressed directory: `<dir>/<sha256>/<fileName>`. A file is
// written to a temporary name beside its final place and renamed only once its sha256 matches, so a
// crash or a bad mirror never leaves a file that looks complete. Machines without network access
// get an error that says exactly which file to copy where.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { hashFileStream, hashingTap } from '../runtime/keys/hash.js';

export class DownloadError extends Error {
  override name = 'DownloadError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface DownloadOptions {
  url: string;
  /** Expected sha256 of the content, 64 hex digits. */
  sha256: string;
  /** Root of the download cache; defaults to `downloadDir()`. */
  dir?: string;
  /** Name of the file inside `<dir>/<sha256>/`; defaults to the last segment of the URL path. */
  fileName?: string;
  onProgress?(received: number, total: number | undefined): void;
  signal?: AbortSignal;
}

/** Marker written beside a file after its hash was checked; records what was checked. */
interface VerifiedMarker {
  sha256: string;
  size: number;
  mtimeMs: number;
}

/**
 * The download folder of every node that downloads (`load`, `embed`): $SIEVE_DOWNLOAD_DIR, else
 * ~/.cache/sieve/downloads. One per user, not per cache: a model or data set downloaded for one
 * project serves the others. (The test suite points it at its own temp dir: vitest.config.ts.)
 */
export function downloadDir(): string {
  return process.env.SIEVE_DOWNLOAD_DIR || join(homedir(), '.cache', 'sieve', 'downloads');
}

/** Where `downloadFile` keeps (or expects) the file for these options. */
export function downloadPath(opts: Pick<DownloadOptions, 'url' | 'sha256' | 'dir' | 'fileName'>): string {
  const sha = normaliseSha256(opts.sha256, opts.url);
  return join(opts.dir ?? downloadDir(), sha, opts.fileName ?? fileNameOf(opts.url));
}

/** Streams a file through sha256. */
export const sha256OfFile = hashFileStream;

/** Returns the local path of the verified file, downloading it first when needed. */
export async function downloadFile(opts: DownloadOptions): Promise<string> {
  const sha = normaliseSha256(opts.sha256, opts.url);
  const target = downloadPath(opts);
  if (await isVerified(target, sha)) return target;

  const folder = join(opts.dir ?? downloadDir(), sha);
  await mkdir(folder, { recursive: true });
  const temp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.part`;
  let actual: string;
  try {
    actual = await fetchToFile(opts.url, temp, target, sha, opts);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  if (actual !== sha) {
    await unlink(temp).catch(() => undefined);
    throw new DownloadError(`checksum mismatch for ${opts.url}: expected sha256 ${sha}, got ${actual}`);
  }
  await rename(temp, target);
  await writeMarker(target, sha);
  return target;
}

function normaliseSha256(sha256: string, url: string): string {
  const sha = sha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha)) {
    throw new DownloadError(`sha256 for ${url} must be 64 hex digits, got "${sha256}"`);
  }
  return sha;
}

function fileNameOf(url: string): string {
  let name = '';
  try {
    name = decodeURIComponent(basename(new URL(url).pathname));
  } catch {
    throw new DownloadError(`not a valid URL: "${url}"`);
  }
  if (!name || name === '/' || name.includes('/') || name.startsWith('.')) {
    throw new DownloadError(`cannot derive a file name from ${url}; pass fileName`);
  }
  return name;
}

function markerPath(target: string): string {
  return `${target}.verified`;
}

async function writeMarker(target: string, sha: string): Promise<void> {
  const s = await stat(target);
  const marker: VerifiedMarker = { sha256: sha, size: s.size, mtimeMs: s.mtimeMs };
  await writeFile(markerPath(target), JSON.stringify(marker));
}

/**
 * True when `target` holds the expected content: either its marker matches its size and mtime, or
 * (a file placed by hand, or a stale marker) a fresh hash matches. A file with the wrong content is
 * removed so that the download can replace it.
 */
async function isVerified(target: string, sha: string): Promise<boolean> {
  let size: number;
  let mtimeMs: number;
  try {
    ({ size, mtimeMs } = await stat(target));
  } catch {
    return false;
  }
  try {
    const marker = JSON.parse(await readFile(markerPath(target), 'utf8')) as VerifiedMarker;
    if (marker.sha256 === sha && marker.size === size && marker.mtimeMs === mtimeMs) return true;
  } catch {
    // no marker or an unreadable one: fall through to hashing
  }
  if ((await sha256OfFile(target)) === sha) {
    await writeMarker(target, sha);
    return true;
  }
  await unlink(target).catch(() => undefined);
  await unlink(markerPath(target)).catch(() => undefined);
  return false;
}

function offlineHint(url: string, target: string, sha: string): string {
  return `download ${url} on a connected machine and place it at ${target}, sha256 ${sha}`;
}

/** Streams `url` into `temp`, returning the sha256 of what was written. */
async function fetchToFile(url: string, temp: string, target: string, sha: string, opts: DownloadOptions): Promise<string> {
  const hint = offlineHint(url, target, sha);
  let body: Readable;
  let total: number | undefined;
  if (url.startsWith('file:')) {
    const source = fileURLToPath(url);
    try {
      total = (await stat(source)).size;
    } catch (e) {
      throw new DownloadError(`cannot read ${url}: ${(e as Error).message}; ${hint}`, { cause: e });
    }
    body = createReadStream(source);
  } else {
    let response: Response;
    try {
      response = await fetch(url, { redirect: 'follow', signal: opts.signal });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      const cause = (e as { cause?: { message?: string; code?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new DownloadError(`cannot fetch ${url} (${why}); ${hint}`, { cause: e });
    }
    if (!response.ok || !response.body) {
      throw new DownloadError(`cannot fetch ${url}: HTTP ${response.status} ${response.statusText}; ${hint}`);
    }
    // With a content-encoding the length counts compressed bytes, not the bytes we receive.
    const length = response.headers.get('content-length');
    total = length && !response.headers.get('content-encoding') ? Number(length) : undefined;
    body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  }

  const meter = hashingTap((_bytes, received) => opts.onProgress?.(received, total));
  try {
    await pipeline(body, meter.stream, createWriteStream(temp), { signal: opts.signal });
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    throw new DownloadError(`transfer of ${url} failed after ${meter.size()} bytes (${(e as Error).message}); ${hint}`, { cause: e });
  }
  return meter.digest();
}

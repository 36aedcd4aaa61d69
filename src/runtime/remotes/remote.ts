// The interface every remote kind implements (a shared directory, S3-compatible storage, ...).
// Remotes are dumb blob stores laid out like the cache (`objects/<2 hex>/<62 hex>`): they never
// vouch for content; whoever downloads checks the bytes against the name before trusting them.
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SieveError } from '../errors.js';
import { hashingTap } from '../keys/hash.js';

export const HEX64 = /^[0-9a-f]{64}$/;

/** Called with the number of bytes moved since the previous call. */
export type ByteProgress = (bytes: number) => void;

export interface RemoteObjectInfo {
  /** The name as found on the remote (a hash when well-formed). */
  name: string;
  size: number;
  /** Why the entry does not fit the layout (e.g. a link, a misnamed file); undefined when it does. */
  problem?: string;
}

export interface FetchedObject {
  sha256: string;
  size: number;
}

export interface Remote {
  /** Human-readable location, used in every message (e.g. "s3://bucket/prefix at http://..."). */
  describe(): string;
  /** Checks that the remote is reachable and usable (bucket exists, credentials accepted). */
  connect(): Promise<void>;
  /** The size of each of `hashes` the remote holds (absent: it holds no such object). */
  sizes(hashes: readonly string[]): Promise<Map<string, number>>;
  /** Uploads one object; a reader never sees a partial one. */
  put(hash: string, localPath: string, size: number, onProgress?: ByteProgress, signal?: AbortSignal): Promise<void>;
  /** Downloads one object to `destPath` (a temp path the caller owns), returning its real hash and size. */
  get(hash: string, destPath: string, onProgress?: ByteProgress, signal?: AbortSignal): Promise<FetchedObject>;
  /** Every entry under the objects layout. */
  list(): Promise<RemoteObjectInfo[]>;
  close(): Promise<void>;
}

/**
 * The objects of `refs` the remote holds with the expected size: presence alone would take a
 * truncated upload (or a wrong object under that name) for the real one.
 */
export async function remoteHolds(remote: Remote, refs: readonly { hash: string; size: number }[]): Promise<Set<string>> {
  const sizes = await remote.sizes(refs.map((r) => r.hash));
  return new Set(refs.filter((r) => sizes.get(r.hash) === r.size).map((r) => r.hash));
}

/** The remote cannot be used at all (unreachable, no bucket, refused credentials, bad config). */
export class RemoteError extends SieveError {
  override name = 'RemoteError';
  constructor(
    readonly remote: string,
    readonly detail: string,
  ) {
    super(`remote ${remote}: ${detail}`);
  }
}

/** One object on a remote is missing or does not match its name. */
export class RemoteObjectError extends SieveError {
  override name = 'RemoteObjectError';
  constructor(
    readonly remote: string,
    readonly hash: string,
    readonly reason: string,
  ) {
    super(`remote ${remote}: object ${hash.slice(0, 12)}: ${reason}`);
  }
}

export function objectKey(hash: string): string {
  if (!HEX64.test(hash)) throw new RangeError(`not a sha256 hex digest: ${hash}`);
  return `objects/${hash.slice(0, 2)}/${hash.slice(2)}`;
}

/** Streams `source` into `destPath`, hashing on the way, so a download is read only once. */
export async function writeHashed(source: Readable, destPath: string, onProgress?: ByteProgress, signal?: AbortSignal): Promise<FetchedObject> {
  const tap = hashingTap((bytes) => onProgress?.(bytes));
  await pipeline(source, tap.stream, createWriteStream(destPath), { signal });
  return { sha256: tap.digest(), size: tap.size() };
}

// Hashing: sha256 over bytes and over canonical JSON (RFC 8785, so every machine agrees on the
// bytes of a params object), and file hashing memoised by (path, size, mtime) like DVC's state db.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import canonicalizeModule from 'canonicalize';
import { writeFileAtomic } from '../store/atomic-file.js';
import type { Json } from '../tensor.js';

// The package is CommonJS with an ESM-style type declaration; take the function either way.
type Canonicalize = (input: unknown) => string | undefined;
const canonicalize: Canonicalize =
  (canonicalizeModule as unknown as { default?: Canonicalize }).default ?? (canonicalizeModule as unknown as Canonicalize);

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Canonical JSON text (sorted keys, shortest round-trip numbers). */
export function canonicalJson(value: Json | Record<string, unknown>): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value cannot be serialised as canonical JSON');
  return text;
}

export function hashJson(value: Json | Record<string, unknown>): string {
  return sha256(canonicalJson(value));
}

export async function hashFileStream(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A pass-through stream that hashes and counts what flows through it (a transfer is read once). */
export function hashingTap(onChunk?: (bytes: number, total: number) => void): { stream: Transform; digest(): string; size(): number } {
  const h = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      h.update(chunk);
      size += chunk.byteLength;
      onChunk?.(chunk.byteLength, size);
      done(null, chunk);
    },
  });
  return { stream, digest: () => h.digest('hex'), size: () => size };
}

export interface FileHash {
  sha256: string;
  size: number;
}

interface MemoEntry {
  size: number;
  /** Nanosecond timestamps and the inode, as decimal strings (bigint stat). */
  mtimeNs: string;
  ctimeNs: string;
  ino: string;
  /** When the hash was taken (ns since the epoch, by the clock that stamps ctime). */
  hashedNs: string;
  sha256: string;
}

/**
 * How long after a file's last change its hash may still be unsafe to memoise: a write within the
 * same timestamp tick leaves size, mtime and ctime as they were (git's "racily clean" entries).
 */
const RACY_NS = 2_000_000_000n;

/**
 * Memoises file hashes keyed by path, size, mtime, ctime and inode (nanoseconds), so a large data
 * set or model is not re-read on every run. An entry is used only if every one of them is
 * unchanged and it was taken well after the file's last change (ctime), so an edit that keeps the
 * size and restores the mtime, or lands in the same tick as the hash, is always hashed again. With
 * a `statePath` the memo persists across processes (`load` before use, `save` after).
 */
export class FileHasher {
  private memo = new Map<string, MemoEntry>();
  private dirty = false;

  constructor(private readonly statePath?: string) {}

  async load(): Promise<void> {
    if (!this.statePath) return;
    try {
      // Synchronous, as the executor's other reads of small state files (see Store.getAction).
      const data = JSON.parse(readFileSync(this.statePath, 'utf8')) as Record<string, MemoEntry> | null;
      this.memo = new Map(Object.entries(data !== null && typeof data === 'object' ? data : {}));
    } catch {
      this.memo = new Map(); // absent or unreadable: start afresh, it is only a cache
    }
  }

  async save(): Promise<void> {
    if (!this.statePath || !this.dirty) return;
    await mkdir(dirname(this.statePath), { recursive: true });
    await writeFileAtomic(this.statePath, JSON.stringify(Object.fromEntries(this.memo)));
    this.dirty = false;
  }

  async hash(path: string): Promise<FileHash> {
    const s = await stat(path, { bigint: true });
    const size = Number(s.size);
    const hit = this.memo.get(path);
    if (
      hit && hit.size === size && hit.mtimeNs === String(s.mtimeNs) && hit.ctimeNs === String(s.ctimeNs) && hit.ino === String(s.ino) &&
      typeof hit.sha256 === 'string' && safeAfter(hit.hashedNs, s.ctimeNs)
    ) {
      return { sha256: hit.sha256, size };
    }
    const hashedNs = BigInt(Date.now()) * 1_000_000n;
    const digest = await hashFileStream(path);
    this.memo.set(path, {
      size, mtimeNs: String(s.mtimeNs), ctimeNs: String(s.ctimeNs), ino: String(s.ino), hashedNs: String(hashedNs), sha256: digest,
    });
    this.dirty = true;
    return { sha256: digest, size };
  }
}

/** Whether a hash taken at `hashedNs` is later than the file's last change by more than a tick. */
function safeAfter(hashedNs: string | undefined, ctimeNs: bigint): boolean {
  try {
    return hashedNs !== undefined && BigInt(hashedNs) - ctimeNs > RACY_NS;
  } catch {
    return false;
  }
}

// The object store: immutable blobs named by their sha256, and the temp space every write goes
// through. Layout under the cache directory:
//   objects/<2 hex>/<62 hex>   one object
//   tmp/                       temp files and scratch folders; everything becomes visible only through rename
// Renames within one filesystem are atomic, so a killed process never leaves a partial object, and
// two processes writing the same object write the same bytes: last rename wins, both are right.
//
// `Objects` is what running a task needs of it (read verified, put, has, a scratch folder, flush);
// `ObjectStore` is the local one, `TieredStore` (tiered.ts) puts a remote behind it.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CorruptObjectError } from '../errors.js';
import { sha256 } from '../keys/hash.js';
import type { DType } from '../tensor.js';
import { processAlive } from './atomic-file.js';

export type ArtifactKind = 'tensor' | 'json' | 'file';

export interface ObjectRef {
  hash: string;
  size: number;
  kind: ArtifactKind;
  dtype?: DType;
  shape?: number[];
}

/** An object as far as storage cares: its name and its size. */
export interface SizedRef {
  hash: string;
  size: number;
}

/** What running a task needs of an object store. */
export interface Objects {
  /** Whether the object can be read (locally, or from a tier behind it). */
  has(ref: SizedRef): Promise<boolean>;
  /** The object's bytes, checked against its size and hash. */
  read(ref: SizedRef): Promise<Uint8Array>;
  /** Stores bytes under their hash; `written` is false when the object was already there. */
  put(bytes: Uint8Array): Promise<{ hash: string; size: number; written: boolean }>;
  /** A new empty folder for a task's temp files. */
  makeScratchDir(): Promise<string>;
  /** Resolves when every object put so far is wherever it must be (a remote, for a tiered store). */
  flush(): Promise<void>;
}

export const HEX64 = /^[0-9a-f]{64}$/;

/** This machine, in temp names and leases: a pid says whether its process lives only on its own host. */
export const HOST_TAG = sha256(hostname()).slice(0, 8);
/** `[prefix-]<pid>-<host tag><random>[.part]`: what `tmpName` makes. */
const TMP_NAME = /^(?:[a-z]+-)?(\d+)-([0-9a-f]{8})[0-9a-f]{12}(?:\.part)?$/;

/** Whether a tmp/ entry was made on this machine by a process that is gone. */
function ownedByDeadProcess(name: string): boolean {
  const m = TMP_NAME.exec(name);
  return m !== null && m[2] === HOST_TAG && !processAlive(Number(m[1]));
}

/** The ids found in a `<dir>/<2 hex>/<name>` layout, sorted. */
export async function listTwoLevel(dir: string, nameOf: (prefix: string, name: string) => string | undefined): Promise<string[]> {
  const out: string[] = [];
  const prefixes = await readdir(dir).catch(() => [] as string[]);
  for (const prefix of prefixes.sort()) {
    for (const name of (await readdir(join(dir, prefix)).catch(() => [] as string[])).sort()) {
      const id = nameOf(prefix, name);
      if (id) out.push(id);
    }
  }
  return out;
}

/** The local object store under `root` (objects/ and tmp/). */
export class ObjectStore implements Objects {
  readonly objectsDir: string;
  readonly tmpDir: string;
  private ready: Promise<void> | undefined;

  constructor(readonly root: string) {
    this.objectsDir = join(root, 'objects');
    this.tmpDir = join(root, 'tmp');
  }

  /** Creates objects/ and tmp/ once per process (synchronously: see `hasIntact`). */
  init(): Promise<void> {
    this.ready ??= new Promise((done) => {
      for (const d of [this.objectsDir, this.tmpDir]) mkdirSync(d, { recursive: true });
      done();
    });
    return this.ready;
  }

  /** A temp name in tmp/ that says which process owns it (see `cleanStaleTmp`). */
  tmpName(prefix = '', suffix = ''): string {
    return join(this.tmpDir, `${prefix}${process.pid}-${HOST_TAG}${randomBytes(6).toString('hex')}${suffix}`);
  }

  objectPath(hash: string): string {
    if (!HEX64.test(hash)) throw new RangeError(`not a sha256 hex digest: ${hash}`);
    return join(this.objectsDir, hash.slice(0, 2), hash.slice(2));
  }

  /** Writes `bytes` to `dest` through a temp file and a rename. */
  async writeAtomic(dest: string, bytes: Uint8Array | string): Promise<void> {
    await this.init();
    const tmp = this.tmpName('', '.part');
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(bytes);
      if (process.env.SIEVE_FSYNC === '1') await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await mkdir(join(dest, '..'), { recursive: true });
      await rename(tmp, dest);
    }
  }

  /** Moves a file already in tmp/ (e.g. a verified download) into place as object `hash`. */
  async adopt(tmpPath: string, hash: string): Promise<void> {
    const dest = this.objectPath(hash);
    try {
      await rename(tmpPath, dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await mkdir(join(dest, '..'), { recursive: true });
      await rename(tmpPath, dest);
    }
  }

  async put(bytes: Uint8Array): Promise<{ hash: string; size: number; written: boolean }> {
    const hash = sha256(bytes);
    const path = this.objectPath(hash);
    const existing = await stat(path).catch(() => undefined);
    const written = !existing || existing.size !== bytes.byteLength;
    if (written) await this.writeAtomic(path, bytes);
    return { hash, size: bytes.byteLength, written };
  }

  // The checks of a cache hit (an action record, the sizes of its objects) are synchronous: a
  // no-op run makes them node after node (each key needs its inputs' hashes), and a thread-pool
  // round trip per call costs more than reading a small file or a stat.

  /** True when the object exists here with the recorded size (the cheap check every cache hit makes). */
  hasIntact(ref: SizedRef): boolean {
    const s = statSync(this.objectPath(ref.hash), { throwIfNoEntry: false });
    return s !== undefined && s.size === ref.size;
  }

  async has(ref: SizedRef): Promise<boolean> {
    return this.hasIntact(ref);
  }

  /** Reads an object and checks size and content hash; a bad object is removed and reported. */
  async read(ref: SizedRef): Promise<Uint8Array> {
    const path = this.objectPath(ref.hash);
    return this.verified(ref, path, await readFile(path).catch((e: Error) => e));
  }

  /**
   * `read`, synchronously: for many small objects read one after another (the metrics of every
   * grid point), where a thread-pool round trip per file costs more than the read. Local only.
   */
  readSync(ref: SizedRef): Uint8Array {
    const path = this.objectPath(ref.hash);
    let bytes: Buffer | Error;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      bytes = e as Error;
    }
    return this.verified(ref, path, bytes);
  }

  /** The bytes read for `ref` when their size and hash match; otherwise the object is removed and reported. */
  private verified(ref: SizedRef, path: string, bytes: Buffer | Error): Uint8Array {
    if (bytes instanceof Error) {
      throw new CorruptObjectError(ref.hash, path, `missing (${(bytes as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
    const reason =
      bytes.byteLength !== ref.size
        ? `size ${bytes.byteLength} but ${ref.size} expected`
        : sha256(bytes) !== ref.hash
          ? 'content does not match its hash'
          : undefined;
    if (reason) {
      rmSync(path, { force: true });
      throw new CorruptObjectError(ref.hash, path, reason);
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Full check of one stored object: undefined when good, else the reason. */
  async check(hash: string): Promise<string | undefined> {
    const bytes = await readFile(this.objectPath(hash)).catch(() => undefined);
    if (!bytes) return 'missing';
    return sha256(bytes) === hash ? undefined : 'content does not match its hash';
  }

  async deleteObject(hash: string): Promise<void> {
    await unlink(this.objectPath(hash)).catch(() => undefined);
  }

  /** Every stored object hash. */
  async listObjects(): Promise<string[]> {
    return listTwoLevel(this.objectsDir, (prefix, name) => (HEX64.test(prefix + name) ? prefix + name : undefined));
  }

  /** Nothing to wait for: a local put is done when it resolves. */
  async flush(): Promise<void> {}

  async makeScratchDir(): Promise<string> {
    await this.init();
    const dir = this.tmpName('scratch-');
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /**
   * Removes what killed processes left in tmp/: entries named by a process that is gone (every temp
   * name carries its pid). A pull's staging folder has no pid: it is kept, so the pull can resume.
   */
  async cleanStaleTmp(): Promise<number> {
    const names = await readdir(this.tmpDir).catch(() => [] as string[]);
    let removed = 0;
    for (const n of names) {
      if (!ownedByDeadProcess(n)) continue;
      await rm(join(this.tmpDir, n), { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  /** Removes temp files older than `olderThanMs` (left by killed processes), except those of a live process. */
  async cleanTmp(olderThanMs: number): Promise<number> {
    const names = await readdir(this.tmpDir).catch(() => [] as string[]);
    let removed = 0;
    const now = Date.now();
    for (const n of names) {
      const owner = TMP_NAME.exec(n);
      if (owner && owner[2] === HOST_TAG && processAlive(Number(owner[1]))) continue;
      const p = join(this.tmpDir, n);
      const s = await stat(p).catch(() => undefined);
      if (s && now - s.mtimeMs > olderThanMs) {
        await rm(p, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }
}

// The content-addressed store. Layout under the cache directory:
//   objects/<2 hex>/<62 hex>   immutable blobs named by their sha256
//   actions/<2 hex>/<key>.json the outputs a node key produced (written after all its objects)
//   runs/<id>.json             the latest run record of each pipeline (gc roots, `results`)
//   runs/history/<id>.jsonl    one line per run of each pipeline (`sieve runs`, `results --latest`)
//   state/                     memos: external files' hashes, plans (see plan-cache.ts)
//   tmp/                       temp files; everything becomes visible only through rename
// Renames within one filesystem are atomic, so a killed process never leaves a partial object, and
// two processes writing the same object write the same bytes: last rename wins, both are right.
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptObjectError } from './errors.js';
import { sha256 } from './hash.js';
import type { DType, Json } from './tensor.js';

export type ArtifactKind = 'tensor' | 'json' | 'file';

export interface ObjectRef {
  hash: string;
  size: number;
  kind: ArtifactKind;
  dtype?: DType;
  shape?: number[];
}

export interface ExternalDepRecord {
  name: string;
  /** Relative to the pipeline's directory where possible, so lockfiles travel. */
  path: string;
  sha256: string;
  size: number;
}

export interface ActionRecord {
  key: string;
  type: string;
  version: string;
  outputs: Record<string, ObjectRef>;
  deps: ExternalDepRecord[];
  notes: Record<string, Json>;
  durationMs: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

export class Store {
  readonly objectsDir: string;
  readonly actionsDir: string;
  readonly runsDir: string;
  readonly tmpDir: string;
  /** The persistent memo of external files' hashes (see FileHasher). */
  readonly fileHashStatePath: string;
  /** Memoised plans (see PlanCache). */
  readonly planCacheDir: string;
  private ready: Promise<void> | undefined;

  constructor(readonly root: string) {
    this.objectsDir = join(root, 'objects');
    this.actionsDir = join(root, 'actions');
    this.runsDir = join(root, 'runs');
    this.tmpDir = join(root, 'tmp');
    this.fileHashStatePath = join(root, 'state', 'file-hashes.json');
    this.planCacheDir = join(root, 'state', 'plans');
  }

  /** Creates the directory skeleton once per process (synchronously: see `getAction`). */
  init(): Promise<void> {
    this.ready ??= new Promise((done) => {
      for (const d of [this.objectsDir, this.actionsDir, this.runsDir, this.tmpDir]) mkdirSync(d, { recursive: true });
      done();
    });
    return this.ready;
  }

  objectPath(hash: string): string {
    if (!HEX64.test(hash)) throw new RangeError(`not a sha256 hex digest: ${hash}`);
    return join(this.objectsDir, hash.slice(0, 2), hash.slice(2));
  }

  actionPath(key: string): string {
    if (!HEX64.test(key)) throw new RangeError(`not a sha256 hex key: ${key}`);
    return join(this.actionsDir, key.slice(0, 2), `${key}.json`);
  }

  /** The log of the latest execution under `key` (its log lines: a command's stdout and stderr). */
  logPath(key: string): string {
    if (!HEX64.test(key)) throw new RangeError(`not a sha256 hex key: ${key}`);
    return join(this.root, 'logs', key.slice(0, 2), `${key}.log`);
  }

  async writeLog(key: string, text: string): Promise<void> {
    await this.writeAtomic(this.logPath(key), text);
  }

  async readLog(key: string): Promise<string | undefined> {
    return readFile(this.logPath(key), 'utf8').catch(() => undefined);
  }

  /** Writes `bytes` to `dest` through a temp file and a rename. */
  async writeAtomic(dest: string, bytes: Uint8Array | string): Promise<void> {
    await this.init();
    const tmp = join(this.tmpDir, `${randomBytes(8).toString('hex')}.part`);
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

  /** Stores bytes under their hash; an object already present is not rewritten. */
  async put(bytes: Uint8Array): Promise<{ hash: string; size: number }> {
    const hash = sha256(bytes);
    const path = this.objectPath(hash);
    const existing = await stat(path).catch(() => undefined);
    if (!existing || existing.size !== bytes.byteLength) await this.writeAtomic(path, bytes);
    return { hash, size: bytes.byteLength };
  }

  // The checks of a cache hit (an action record, the sizes of its objects) are synchronous: a
  // no-op run makes them node after node (each key needs its inputs' hashes), and a thread-pool
  // round trip per call costs more than reading a small file or a stat.

  /** True when the object exists with the recorded size (the cheap check every cache hit makes). */
  hasIntact(ref: { hash: string; size: number }): boolean {
    const s = statSync(this.objectPath(ref.hash), { throwIfNoEntry: false });
    return s !== undefined && s.size === ref.size;
  }

  /** Reads an object and checks size and content hash; a bad object is removed and reported. */
  async read(ref: { hash: string; size: number }): Promise<Uint8Array> {
    const path = this.objectPath(ref.hash);
    return this.verified(ref, path, await readFile(path).catch((e: Error) => e));
  }

  /**
   * `read`, synchronously: for many small objects read one after another (the metrics of every
   * grid point), where a thread-pool round trip per file costs more than the read.
   */
  readSync(ref: { hash: string; size: number }): Uint8Array {
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
  private verified(ref: { hash: string; size: number }, path: string, bytes: Buffer | Error): Uint8Array {
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

  getAction(key: string): ActionRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.actionPath(key), 'utf8')) as ActionRecord;
    } catch {
      return undefined;
    }
  }

  async putAction(record: ActionRecord): Promise<void> {
    await this.writeAtomic(this.actionPath(record.key), JSON.stringify(record, null, 1));
  }

  async deleteAction(key: string): Promise<void> {
    await unlink(this.actionPath(key)).catch(() => undefined);
  }

  async deleteObject(hash: string): Promise<void> {
    await unlink(this.objectPath(hash)).catch(() => undefined);
  }

  /** Every stored object hash. */
  async listObjects(): Promise<string[]> {
    return this.listTwoLevel(this.objectsDir, (prefix, name) => (HEX64.test(prefix + name) ? prefix + name : undefined));
  }

  /** Every action key. */
  async listActions(): Promise<string[]> {
    return this.listTwoLevel(this.actionsDir, (_prefix, name) => {
      const key = name.replace(/\.json$/, '');
      return HEX64.test(key) ? key : undefined;
    });
  }

  private async listTwoLevel(dir: string, nameOf: (prefix: string, name: string) => string | undefined): Promise<string[]> {
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

  /**
   * The run record is written synchronously, like the reads of a cache hit (see `getAction`): it is
   * small, and it is the last thing a no-op run does, where each thread-pool round trip shows.
   */
  async writeRunRecord(id: string, record: Json): Promise<void> {
    await this.init();
    const tmp = join(this.tmpDir, `${randomBytes(8).toString('hex')}.part`);
    try {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, JSON.stringify(record, null, 1));
        if (process.env.SIEVE_FSYNC === '1') fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, join(this.runsDir, `${id}.json`));
    } catch (e) {
      try {
        unlinkSync(tmp);
      } catch {
        // never created, or already renamed
      }
      throw e;
    }
  }

  /** Appends one line to a pipeline's run history (O_APPEND: concurrent runs do not interleave a line). */
  async appendRunHistory(id: string, entry: Json): Promise<void> {
    await this.init();
    mkdirSync(join(this.runsDir, 'history'), { recursive: true });
    appendFileSync(join(this.runsDir, 'history', `${id}.jsonl`), `${JSON.stringify(entry)}\n`);
  }

  /** A pipeline's run history, oldest first (lines that do not parse, from a crash mid-write, are skipped). */
  async readRunHistory(id: string): Promise<Json[]> {
    const text = await readFile(join(this.runsDir, 'history', `${id}.jsonl`), 'utf8').catch(() => '');
    const out: Json[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as Json);
      } catch {
        // a partial last line
      }
    }
    return out;
  }

  async listRunRecords(): Promise<Json[]> {
    const names = await readdir(this.runsDir).catch(() => [] as string[]);
    const out: Json[] = [];
    for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
      try {
        out.push(JSON.parse(await readFile(join(this.runsDir, n), 'utf8')) as Json);
      } catch {
        // A record from an interrupted write cannot exist (atomic), but a hand-edited one might.
      }
    }
    return out;
  }

  /** Removes temp files older than `olderThanMs` (left by killed processes). */
  async cleanTmp(olderThanMs: number): Promise<number> {
    const names = await readdir(this.tmpDir).catch(() => [] as string[]);
    let removed = 0;
    const now = Date.now();
    for (const n of names) {
      const p = join(this.tmpDir, n);
      const s = await stat(p).catch(() => undefined);
      if (s && now - s.mtimeMs > olderThanMs) {
        await rm(p, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  async makeScratchDir(): Promise<string> {
    await this.init();
    const dir = join(this.tmpDir, `scratch-${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { recursive: true });
    return dir;
  }
}

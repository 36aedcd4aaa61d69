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
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CorruptObjectError, SieveError } from '../errors.js';
import { hashJson, sha256 } from '../keys/hash.js';
import type { DType, Json } from '../tensor.js';
import { processAlive } from './atomic-file.js';

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

/**
 * Where an action record came from. Objects are checked by their hash wherever they come from, but
 * a record (key → outputs) cannot be checked without recomputing it: one that arrived from a bundle
 * or a remote is used only for the pipeline file it arrived with, unless its source is trusted.
 */
export type ActionOrigin =
  | { kind: 'local' }
  | {
      kind: 'bundle' | 'remote';
      /** The bundle's sha256, or the remote's name (or its description when it has no name). */
      source: string;
      /** Absolute path of the pipeline file it arrived with. */
      pipeline: string;
      /** The user trusts the source (`--trust`, `trusted_remotes`): usable by any pipeline. */
      trusted?: boolean;
    };

export interface ActionRecord {
  key: string;
  /** Absent in records this machine computed (and in records from before origins were kept). */
  origin?: ActionOrigin;
  type: string;
  version: string;
  outputs: Record<string, ObjectRef>;
  deps: ExternalDepRecord[];
  notes: Record<string, Json>;
  durationMs: number;
  /** sha256 of the record's canonical JSON without this field: a record edited on disk is not used. */
  digest?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** This machine, in temp names and leases: a pid says whether its process lives only on its own host. */
const HOST_TAG = sha256(hostname()).slice(0, 8);
/** `[prefix-]<pid>-<host tag><random>[.part]`: what `tmpName` makes. */
const TMP_NAME = /^(?:[a-z]+-)?(\d+)-([0-9a-f]{8})[0-9a-f]{12}(?:\.part)?$/;

/** Whether a tmp/ entry was made on this machine by a process that is gone. */
function ownedByDeadProcess(name: string): boolean {
  const m = TMP_NAME.exec(name);
  return m !== null && m[2] === HOST_TAG && !processAlive(Number(m[1]));
}

/** "computed here", "imported from bundle 3f2a…", "pulled from remote team". */
export function describeOrigin(origin: ActionOrigin | undefined): string {
  if (!origin || origin.kind === 'local') return 'computed here';
  const what = origin.kind === 'bundle' ? `imported from bundle ${origin.source.slice(0, 12)}` : `pulled from remote ${origin.source}`;
  return origin.trusted ? `${what} (trusted)` : what;
}

/** Whether a record may serve a cache hit for the pipeline file at `pipelinePath`. */
export function usableFor(record: ActionRecord, pipelinePath: string): boolean {
  const o = record.origin;
  return !o || o.kind === 'local' || o.trusted === true || o.pipeline === pipelinePath;
}

/** The digest an action record carries over the rest of its content. */
function actionDigest(record: Omit<ActionRecord, 'digest'>): string {
  return hashJson(record as unknown as Record<string, unknown>);
}

export class Store {
  readonly objectsDir: string;
  readonly actionsDir: string;
  readonly runsDir: string;
  readonly tmpDir: string;
  /** The persistent memo of external files' hashes (see FileHasher). */
  readonly fileHashStatePath: string;
  /** Memoised plans (see PlanCache). */
  readonly planCacheDir: string;
  /** Leases of running processes: the objects they use, which `gc` never removes (see Lease). */
  readonly leasesDir: string;
  private ready: Promise<void> | undefined;

  constructor(readonly root: string) {
    this.objectsDir = join(root, 'objects');
    this.actionsDir = join(root, 'actions');
    this.runsDir = join(root, 'runs');
    this.tmpDir = join(root, 'tmp');
    this.fileHashStatePath = join(root, 'state', 'file-hashes.json');
    this.planCacheDir = join(root, 'state', 'plans');
    this.leasesDir = join(root, 'state', 'leases');
  }

  /** A temp name in tmp/ that says which process owns it (see `cleanStaleTmp`). */
  tmpName(prefix = '', suffix = ''): string {
    return join(this.tmpDir, `${prefix}${process.pid}-${HOST_TAG}${randomBytes(6).toString('hex')}${suffix}`);
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

  /**
   * The action record of `key`, or undefined when there is none or it does not hold: stored under
   * another key's name, or its content no longer matches its digest (an edited or swapped output).
   */
  getAction(key: string): ActionRecord | undefined {
    const r = this.readAction(key);
    return r.ok ? r.record : undefined;
  }

  /** The action record of `key` with the reason it is refused, if it is. */
  readAction(key: string): { ok: true; record: ActionRecord } | { ok: false; reason: string } {
    let record: ActionRecord;
    try {
      record = JSON.parse(readFileSync(this.actionPath(key), 'utf8')) as ActionRecord;
    } catch (e) {
      return { ok: false, reason: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'unreadable' };
    }
    if (record === null || typeof record !== 'object' || typeof record.outputs !== 'object' || record.outputs === null) {
      return { ok: false, reason: 'not an action record' };
    }
    if (record.key !== key) return { ok: false, reason: `stored under ${key.slice(0, 12)} but records key ${String(record.key).slice(0, 12)}` };
    const { digest, ...rest } = record;
    if (digest !== actionDigest(rest)) return { ok: false, reason: 'its content does not match its digest' };
    return { ok: true, record };
  }

  async putAction(record: ActionRecord): Promise<void> {
    const { digest: _old, ...rest } = record;
    await this.writeAtomic(this.actionPath(record.key), JSON.stringify({ ...rest, digest: actionDigest(rest) }, null, 1));
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
    const tmp = this.tmpName('', '.part');
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

  /**
   * Every run record. With `strict`, one that cannot be read or has not the shape of a run record
   * is an error (what `gc` needs: a record it cannot read must never widen what it deletes);
   * otherwise it is skipped.
   */
  async listRunRecords(strict = false): Promise<Json[]> {
    const names = await readdir(this.runsDir).catch(() => [] as string[]);
    const out: Json[] = [];
    for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
      const path = join(this.runsDir, n);
      let record: unknown;
      try {
        record = JSON.parse(await readFile(path, 'utf8'));
      } catch (e) {
        if (strict) throw new SieveError(`run record ${path} cannot be read (${(e as Error).message}): remove it, or run its pipeline again to rewrite it`);
        continue;
      }
      const nodes = (record as { nodes?: unknown } | null)?.nodes;
      const shaped = Array.isArray(nodes) && nodes.every((x) => x !== null && typeof x === 'object' && (x.outputs === undefined || (typeof x.outputs === 'object' && x.outputs !== null)));
      if (!shaped) {
        if (strict) throw new SieveError(`run record ${path} is not a Sieve run record (no list of nodes with outputs): remove it, or run its pipeline again to rewrite it`);
        continue;
      }
      out.push(record as Json);
    }
    return out;
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

  async makeScratchDir(): Promise<string> {
    await this.init();
    const dir = this.tmpName('scratch-');
    await mkdir(dir, { recursive: true });
    return dir;
  }
}

/**
 * A running process's lease on the store: a file in state/leases/ naming its pid, when it started
 * and the objects it uses. `gc` keeps every object a live lease names and every object written
 * since the oldest live lease started, so it never removes what a run is reading or writing. The
 * file is created on first use (a run that only finds cache hits writes nothing) and removed at the
 * end; the lease of a killed process is ignored and removed by the next `gc`.
 */
export class Lease {
  private path: string | undefined;
  private pending: string[] = [];

  constructor(private readonly store: Store) {}

  add(hashes: Iterable<string>): void {
    for (const h of hashes) this.pending.push(h);
  }

  /** Writes what was added since the last flush (synchronously: it is small, and must precede the reads it protects). */
  flush(): void {
    if (this.pending.length === 0 && this.path) return;
    if (!this.path) {
      mkdirSync(this.store.leasesDir, { recursive: true });
      this.path = join(this.store.leasesDir, `${process.pid}-${randomBytes(6).toString('hex')}.lease`);
      writeFileSync(this.path, `${JSON.stringify({ pid: process.pid, host: HOST_TAG, started: Date.now() })}\n`);
    }
    if (this.pending.length > 0) appendFileSync(this.path, `${this.pending.join('\n')}\n`);
    this.pending = [];
  }

  release(): void {
    if (!this.path) return;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
    this.path = undefined;
  }
}

export interface LiveLeases {
  /** Objects the live leases name. */
  hashes: Set<string>;
  /** When the oldest live lease started (ms since the epoch); undefined when none is live. */
  oldestStart?: number;
  /** Lease files of processes that are gone. */
  dead: string[];
}

/** The leases of processes still running on this machine. */
export async function readLeases(store: Store): Promise<LiveLeases> {
  const out: LiveLeases = { hashes: new Set(), dead: [] };
  for (const n of await readdir(store.leasesDir).catch(() => [] as string[])) {
    if (!n.endsWith('.lease')) continue;
    const path = join(store.leasesDir, n);
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const [head, ...lines] = text.split('\n');
    let info: { pid?: unknown; host?: unknown; started?: unknown } = {};
    try {
      info = JSON.parse(head) as typeof info;
    } catch {
      // a lease being created: its pid is in its name
    }
    const pid = typeof info.pid === 'number' ? info.pid : Number(/^(\d+)-/.exec(n)?.[1]);
    // A lease of another machine sharing the cache cannot be checked by pid: live for a day.
    const otherHost = typeof info.host === 'string' && info.host !== HOST_TAG;
    const alive = otherHost ? Date.now() - (typeof info.started === 'number' ? info.started : 0) < 86_400_000 : processAlive(pid);
    if (!alive) {
      out.dead.push(path);
      continue;
    }
    const started = typeof info.started === 'number' ? info.started : 0;
    out.oldestStart = Math.min(out.oldestStart ?? started, started);
    for (const l of lines) if (HEX64.test(l)) out.hashes.add(l);
  }
  return out;
}

// The local cache: an object store (object-store.ts: objects/, tmp/) and an action cache
// (action-cache.ts: actions/, logs/) under one directory, with what belongs to this machine's runs:
//   runs/<id>.json             the latest run record of each pipeline (gc roots, `results`)
//   runs/history/<id>.jsonl    one line per run of each pipeline (`sieve runs`, `results --latest`)
//   state/                     memos: external files' hashes, plans (see plan-cache.ts); leases
// `Store` keeps the methods of both parts, so a caller holds one object; a tiered store (tiered.ts)
// is a Store whose object reads and writes also go to a remote. Tasks are given a StoreDescription
// and open it with `openStore` (open.ts).
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SieveError } from '../errors.js';
import type { Json } from '../tensor.js';
import { ActionCache, usableFor, type ActionRecord } from './action-cache.js';
import { processAlive } from './atomic-file.js';
import type { StoreDescription } from './description.js';
import { HEX64, HOST_TAG, ObjectStore, type Objects, type SizedRef } from './object-store.js';

export { describeOrigin, usableFor, type ActionOrigin, type ActionRecord, type ExternalDepRecord } from './action-cache.js';
export type { ArtifactKind, ObjectRef, Objects, SizedRef } from './object-store.js';
export type { StoreDescription } from './description.js';

export class Store implements Objects {
  /** objects/ and tmp/ of this cache (for a tiered store: its local tier). */
  readonly objects: ObjectStore;
  /** actions/ and logs/ of this cache. */
  readonly actions: ActionCache;
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
    this.objects = new ObjectStore(root);
    this.actions = new ActionCache(root, (dest, bytes) => this.objects.writeAtomic(dest, bytes));
    this.objectsDir = this.objects.objectsDir;
    this.actionsDir = this.actions.actionsDir;
    this.runsDir = join(root, 'runs');
    this.tmpDir = this.objects.tmpDir;
    this.fileHashStatePath = join(root, 'state', 'file-hashes.json');
    this.planCacheDir = join(root, 'state', 'plans');
    this.leasesDir = join(root, 'state', 'leases');
  }

  /** What a task is given to open this store where it runs (see open.ts). */
  describe(): StoreDescription {
    return { type: 'local', root: this.root };
  }

  /** Creates the directory skeleton once per process (synchronously: see `getAction`). */
  init(): Promise<void> {
    // Both make their folders synchronously, at the call.
    this.ready ??= Promise.all([
      this.objects.init(),
      new Promise<void>((done) => {
        for (const d of [this.actionsDir, this.runsDir]) mkdirSync(d, { recursive: true });
        done();
      }),
    ]).then(() => undefined);
    return this.ready;
  }

  /** Releases what the store holds open (a remote's connections); the local cache holds nothing. */
  async close(): Promise<void> {}

  // ---- objects (object-store.ts); a tiered store overrides has / read / put / flush

  tmpName(prefix = '', suffix = ''): string {
    return this.objects.tmpName(prefix, suffix);
  }

  objectPath(hash: string): string {
    return this.objects.objectPath(hash);
  }

  writeAtomic(dest: string, bytes: Uint8Array | string): Promise<void> {
    return this.objects.writeAtomic(dest, bytes);
  }

  /** Stores bytes under their hash; an object already present is not rewritten. */
  put(bytes: Uint8Array): Promise<{ hash: string; size: number; written: boolean }> {
    return this.objects.put(bytes);
  }

  /** True when the object is in the local cache with the recorded size (synchronous: see ObjectStore). */
  hasIntact(ref: SizedRef): boolean {
    return this.objects.hasIntact(ref);
  }

  /** Whether the object can be read: in the local cache or, for a tiered store, on its remote. */
  has(ref: SizedRef): Promise<boolean> {
    return this.objects.has(ref);
  }

  /** `has` of every object; when all are in the local cache, without a promise per object. */
  async hasAll(refs: readonly SizedRef[]): Promise<boolean> {
    if (refs.every((r) => this.hasIntact(r))) return true;
    return (await Promise.all(refs.map((r) => this.has(r)))).every(Boolean);
  }

  /** Reads an object and checks size and content hash; a bad object is removed and reported. */
  read(ref: SizedRef): Promise<Uint8Array> {
    return this.objects.read(ref);
  }

  /** `read` from the local cache, synchronously (many small objects, one after another). */
  readSync(ref: SizedRef): Uint8Array {
    return this.objects.readSync(ref);
  }

  /** Resolves when every object put so far is wherever it must be (see TieredStore). */
  flush(): Promise<void> {
    return this.objects.flush();
  }

  check(hash: string): Promise<string | undefined> {
    return this.objects.check(hash);
  }

  deleteObject(hash: string): Promise<void> {
    return this.objects.deleteObject(hash);
  }

  listObjects(): Promise<string[]> {
    return this.objects.listObjects();
  }

  cleanStaleTmp(): Promise<number> {
    return this.objects.cleanStaleTmp();
  }

  cleanTmp(olderThanMs: number): Promise<number> {
    return this.objects.cleanTmp(olderThanMs);
  }

  makeScratchDir(): Promise<string> {
    return this.objects.makeScratchDir();
  }

  // ---- action records and logs (action-cache.ts)

  actionPath(key: string): string {
    return this.actions.actionPath(key);
  }

  getAction(key: string): ActionRecord | undefined {
    return this.actions.getAction(key);
  }

  /**
   * The action recorded under `key` when it is a cache hit for the pipeline at `pipelinePath`: a
   * result from elsewhere only for the pipeline it arrived with (`usableFor`), and its outputs readable
   * (`has`: in this cache or, for a tiered store, on its remote).
   */
  async usableHit(key: string, pipelinePath: string): Promise<ActionRecord | undefined> {
    const found = this.getAction(key);
    if (!found || !usableFor(found, pipelinePath)) return undefined;
    return (await this.hasAll(Object.values(found.outputs))) ? found : undefined;
  }

  readAction(key: string): { ok: true; record: ActionRecord } | { ok: false; reason: string } {
    return this.actions.readAction(key);
  }

  putAction(record: ActionRecord): Promise<void> {
    return this.actions.putAction(record);
  }

  deleteAction(key: string): Promise<void> {
    return this.actions.deleteAction(key);
  }

  listActions(): Promise<string[]> {
    return this.actions.listActions();
  }

  logPath(key: string): string {
    return this.actions.logPath(key);
  }

  writeLog(key: string, text: string): Promise<void> {
    return this.actions.writeLog(key, text);
  }

  readLog(key: string): Promise<string | undefined> {
    return this.actions.readLog(key);
  }

  // ---- run records (this machine's runs)

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

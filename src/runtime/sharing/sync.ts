// `sieve push` / `sieve pull`: move the objects a lockfile names between the local cache and a
// remote. Content addressing makes both incremental: only objects absent on the other side move.
// Every download is hashed on the way in and staged; nothing enters the cache until every object
// of the pull checked out, and then action records rebuilt from the lockfile make each node a
// cache hit for `sieve run` and `sieve status`.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pLimit from 'p-limit';
import { SieveError, UsageError } from '../errors.js';
import type { NodeRecord } from '../execution/events.js';
import { hashFileStream } from '../keys/hash.js';
import { RemoteObjectError, remoteHolds, type Remote } from '../remotes/remote.js';
import type { Lockfile } from '../results/lockfile.js';
import type { ActionOrigin, Store } from '../store/store.js';

export interface Selection {
  /** Only this node and its ancestors. */
  node?: string;
  /** Only this grid point. */
  point?: string;
}

export interface SelectedRecord {
  point: string;
  nodeId: string;
  record: NodeRecord;
}

export interface WantedObject {
  hash: string;
  size: number;
  /** "node" or "node@point" of every record that produced it. */
  producers: string[];
}

export interface TransferProgress {
  objectsDone: number;
  objectsTotal: number;
  bytesDone: number;
  bytesTotal: number;
  elapsedMs: number;
}

export interface TransferOptions {
  selection?: Selection;
  /** Objects moved at once (default 8). */
  jobs?: number;
  onProgress?(p: TransferProgress): void;
  signal?: AbortSignal;
}

export interface PullOptions extends TransferOptions {
  /**
   * Where the restored action records say they came from: the remote and the pipeline file pulled
   * for. Without it, the records serve no pipeline until `sieve audit` or a run recomputes them.
   */
  origin?: ActionOrigin;
}

export interface TransferReport {
  remote: string;
  /** Objects the selection names. */
  wanted: number;
  transferred: number;
  transferredBytes: number;
  /** Already on the destination (never sent again). */
  alreadyThere: number;
  ms: number;
  /** Push: objects the lockfile names that the local cache lacks (with their producers). */
  missingLocally: WantedObject[];
  /** Pull: staged downloads of an interrupted pull that were reused. */
  resumed: number;
  /** Pull: action records written so the executor sees cache hits. */
  actionsRestored: number;
}

/** A pull cannot complete because the remote lacks objects the lockfile names. */
export class MissingOnRemoteError extends SieveError {
  override name = 'MissingOnRemoteError';
  constructor(
    readonly remote: string,
    readonly missing: readonly WantedObject[],
  ) {
    const nodes = [...new Set(missing.flatMap((m) => m.producers))];
    super(
      `remote ${remote} lacks ${missing.length} object(s) needed by node(s) ${nodes.join(', ')}:\n` +
        missing.map((m) => `  ${m.hash} (${m.size} bytes) from ${m.producers.join(', ')}`).join('\n') +
        '\n(push them from the machine that ran those nodes, or run them here)',
    );
  }
}

/** Objects that arrived from a remote and did not match their names; nothing was kept. */
export class PullRefusedError extends SieveError {
  override name = 'PullRefusedError';
  constructor(
    readonly remote: string,
    readonly failures: readonly { hash: string; reason: string }[],
  ) {
    super(
      `pull from ${remote} refused, nothing was added to the cache; ${failures.length} bad object(s):\n` +
        failures.map((f) => `  ${f.hash}: ${f.reason}`).join('\n'),
    );
  }
}

/** The records a selection covers: a point (or all), and a node with its ancestors (or all). */
export function selectRecords(lock: Lockfile, sel: Selection = {}): SelectedRecord[] {
  const pointIds = Object.keys(lock.points);
  if (sel.point !== undefined && !lock.points[sel.point]) {
    throw new UsageError(`no grid point "${sel.point}" in the lockfile (points: ${pointIds.join(', ')})`);
  }
  const out: SelectedRecord[] = [];
  let nodeSeen = false;
  for (const pointId of sel.point !== undefined ? [sel.point] : pointIds) {
    const nodes = lock.points[pointId].nodes;
    let ids = Object.keys(nodes);
    if (sel.node !== undefined) {
      if (!nodes[sel.node]) continue;
      nodeSeen = true;
      ids = [...ancestorsInPoint(nodes, sel.node)];
    }
    for (const id of ids) out.push({ point: pointId, nodeId: id, record: nodes[id] });
  }
  if (sel.node !== undefined && !nodeSeen) {
    throw new UsageError(`node "${sel.node}" has no record in the lockfile${sel.point ? ` at point ${sel.point}` : ''}`);
  }
  return out;
}

/** A node and every node whose outputs it (transitively) read, found through content hashes. */
function ancestorsInPoint(nodes: Record<string, NodeRecord>, start: string): Set<string> {
  const producer = new Map<string, string[]>();
  for (const [id, rec] of Object.entries(nodes)) {
    for (const o of Object.values(rec.outputs)) producer.set(o.hash, [...(producer.get(o.hash) ?? []), id]);
  }
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length) {
    const id = todo.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const h of Object.values(nodes[id].inputs)) todo.push(...(producer.get(h) ?? []));
  }
  return seen;
}

export function wantedObjects(lock: Lockfile, sel: Selection = {}): WantedObject[] {
  const multiPoint = Object.keys(lock.points).length > 1;
  const byHash = new Map<string, WantedObject>();
  for (const r of selectRecords(lock, sel)) {
    const label = multiPoint ? `${r.nodeId}@${r.point}` : r.nodeId;
    for (const o of Object.values(r.record.outputs)) {
      const w = byHash.get(o.hash) ?? { hash: o.hash, size: o.size, producers: [] };
      if (!w.producers.includes(label)) w.producers.push(label);
      byHash.set(o.hash, w);
    }
  }
  return [...byHash.values()];
}

class ProgressMeter {
  private readonly t0 = performance.now();
  private last = 0;
  objectsDone = 0;
  bytesDone = 0;

  constructor(
    readonly objectsTotal: number,
    readonly bytesTotal: number,
    private readonly sink?: (p: TransferProgress) => void,
  ) {}

  bytes(n: number): void {
    this.bytesDone += n;
    // Byte callbacks arrive per chunk: pass on at most ~10 per second.
    const now = performance.now();
    if (now - this.last > 100) this.emit(now);
  }

  object(): void {
    this.objectsDone++;
    this.emit(performance.now());
  }

  emit(now = performance.now()): void {
    this.last = now;
    this.sink?.({ objectsDone: this.objectsDone, objectsTotal: this.objectsTotal, bytesDone: this.bytesDone, bytesTotal: this.bytesTotal, elapsedMs: now - this.t0 });
  }
}

/** Runs `task` over `items` with bounded concurrency; the first failure stops new starts. */
async function forEachLimited<T>(items: readonly T[], jobs: number, signal: AbortSignal | undefined, task: (item: T) => Promise<void>): Promise<void> {
  const limit = pLimit(jobs);
  const stop = new AbortController();
  const results = await Promise.allSettled(
    items.map((item) =>
      limit(async () => {
        if (stop.signal.aborted) return;
        signal?.throwIfAborted();
        try {
          await task(item);
        } catch (e) {
          stop.abort();
          throw e;
        }
      }),
    ),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

export async function push(store: Store, remote: Remote, lock: Lockfile, opts: TransferOptions = {}): Promise<TransferReport> {
  const t0 = performance.now();
  const wanted = wantedObjects(lock, opts.selection);
  const local: WantedObject[] = [];
  const missingLocally: WantedObject[] = [];
  for (const w of wanted) (store.hasIntact(w) ? local : missingLocally).push(w);
  await remote.connect();
  // An object there with another size (a truncated upload) is uploaded again, which replaces it.
  const present = await remoteHolds(remote, local);
  const todo = local.filter((w) => !present.has(w.hash));
  const meter = new ProgressMeter(todo.length, todo.reduce((s, w) => s + w.size, 0), opts.onProgress);
  meter.emit();
  await forEachLimited(todo, opts.jobs ?? 8, opts.signal, async (w) => {
    await remote.put(w.hash, store.objectPath(w.hash), w.size, (n) => meter.bytes(n), opts.signal);
    meter.object();
  });
  return {
    remote: remote.describe(), wanted: wanted.length, transferred: todo.length, transferredBytes: meter.bytesDone,
    alreadyThere: present.size, ms: Math.round(performance.now() - t0), missingLocally, resumed: 0, actionsRestored: 0,
  };
}

export async function pull(store: Store, remote: Remote, lock: Lockfile, opts: PullOptions = {}): Promise<TransferReport> {
  const t0 = performance.now();
  await store.init();
  const wanted = wantedObjects(lock, opts.selection);
  const need: WantedObject[] = [];
  for (const w of wanted) if (!store.hasIntact(w)) need.push(w);
  let transferred = 0;
  let resumed = 0;
  const meter = new ProgressMeter(need.length, need.reduce((s, w) => s + w.size, 0), opts.onProgress);
  if (need.length > 0) {
    await remote.connect();
    // Present in any form: what is not the object (another size, a link) is refused, with its reason, on download.
    const present = await remote.sizes(need.map((w) => w.hash));
    const missing = need.filter((w) => !present.has(w.hash));
    if (missing.length > 0) throw new MissingOnRemoteError(remote.describe(), missing);
    // Staged per remote, so a pull that was interrupted picks up the downloads it had finished.
    const staging = join(store.tmpDir, `pull-${createHash('sha256').update(remote.describe()).digest('hex').slice(0, 16)}`);
    await mkdir(staging, { recursive: true });
    const failures: { hash: string; reason: string }[] = [];
    meter.emit();
    try {
      await forEachLimited(need, opts.jobs ?? 8, opts.signal, async (w) => {
        const staged = join(staging, w.hash);
        if (await stagedIntact(staged, w)) {
          resumed++;
          meter.bytes(w.size);
          meter.object();
          return;
        }
        const part = `${staged}.${randomBytes(4).toString('hex')}.part`;
        try {
          const got = await remote.get(w.hash, part, (n) => meter.bytes(n), opts.signal).catch((e: unknown) => {
            if (e instanceof RemoteObjectError) failures.push({ hash: w.hash, reason: e.reason });
            throw e;
          });
          const reason =
            got.size !== w.size ? `${got.size} bytes arrived, the lockfile records ${w.size} (truncated or wrong object)`
            : got.sha256 !== w.hash ? `content hashes to ${got.sha256}, not to its name`
            : undefined;
          if (reason) {
            failures.push({ hash: w.hash, reason });
            throw new RemoteObjectError(remote.describe(), w.hash, reason);
          }
          await rename(part, staged);
          transferred++;
          meter.object();
        } finally {
          await rm(part, { force: true });
        }
      });
    } catch (e) {
      if (failures.length > 0) {
        await rm(staging, { recursive: true, force: true });
        throw new PullRefusedError(remote.describe(), failures);
      }
      throw e;
    }
    for (const w of need) await moveInto(join(staging, w.hash), store.objectPath(w.hash));
    await rm(staging, { recursive: true, force: true });
  }
  const origin = opts.origin ?? { kind: 'remote', source: remote.describe(), pipeline: '' };
  const actionsRestored = await restoreActions(store, lock, origin, opts.selection);
  return {
    remote: remote.describe(), wanted: wanted.length, transferred, transferredBytes: meter.bytesDone,
    alreadyThere: wanted.length - need.length, ms: Math.round(performance.now() - t0), missingLocally: [], resumed, actionsRestored,
  };
}

async function stagedIntact(path: string, w: WantedObject): Promise<boolean> {
  const s = await stat(path).catch(() => undefined);
  if (!s || s.size !== w.size) return false;
  return (await hashFileStream(path)) === w.hash;
}

/** Renames a verified file into the store (same filesystem: the store's tmp/ is inside it). */
export async function moveInto(from: string, dest: string): Promise<void> {
  try {
    await rename(from, dest);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await mkdir(dirname(dest), { recursive: true });
    await rename(from, dest);
  }
}

/**
 * Writes the action record of every selected lockfile entry whose outputs are all in the cache, so
 * the executor finds a hit under the same key. The key is taken from the lockfile as is: if the
 * teammate's params, inputs or files differ, their key differs and the node simply runs. Nothing
 * proves that a record's outputs are what its key computes, so each record carries its `origin` and
 * serves only the pipeline it arrived with unless that source is trusted (`sieve audit` checks).
 * A record already in the cache is never replaced.
 */
export async function restoreActions(store: Store, lock: Lockfile, origin: ActionOrigin, sel?: Selection): Promise<number> {
  let written = 0;
  const done = new Set<string>();
  for (const { record } of selectRecords(lock, sel)) {
    if (done.has(record.key)) continue;
    done.add(record.key);
    if (!Object.values(record.outputs).every((o) => store.hasIntact(o)) || store.getAction(record.key)) continue;
    await store.putAction({
      key: record.key, origin, type: record.type, version: record.version, outputs: record.outputs,
      deps: record.deps, notes: record.notes, durationMs: record.ms,
    });
    written++;
  }
  return written;
}

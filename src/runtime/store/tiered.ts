// A tiered store: the local cache in front of a remote (runtime/remotes/: a shared directory or
// S3-compatible storage), so a machine without the cache's objects can still run a task.
//
//   has(ref)    local first, then the remote (both: present with the expected size)
//   read(ref)   local first; otherwise the object is downloaded into tmp/, checked against its hash
//               and size, and moved into the local cache (read-through). An object the remote does
//               not hold, or holds with other content, is a CorruptObjectError: it never enters the
//               local cache, and the executor recomputes its producer as for a bad local object.
//   put(bytes)  into the local cache, then pushed to the remote in the background (write-back);
//   flush()     waits for every push so far and throws the first failure: a task awaits it before
//               it reports completion (runTask does), so a completed task's outputs are on the remote.
//   writeBack(refs)  pushes objects already here that the remote lacks (a hit older than the remote).
//   close()     releases the remote's connections.
//
// Action records and logs stay in the local action cache: a remote is a dumb blob store, and a
// record from elsewhere is only trusted under the rules of action-cache.ts (README "Trust model").
// Everything else (readSync, hasIntact, gc, verify) is about the local tier only.
//
// Use (e.g. a worker that shares only S3 with the others):
//   const store = await openStore({ type: 'tiered', root: '/scratch/sieve-cache', remote: 'team' });
//   // remote: a name under `remotes:` of this machine's user config, a directory path, an
//   // s3://bucket/prefix URL, or settings such as {type: 's3', bucket, prefix, endpoint} (no credentials:
//   // the AWS chain of this process supplies them)
//   await runTask(node, { ...request, store: store.describe() }, hooks); // reads through, flushes before it returns
//   await store.close();
// `describe()` gives the description back, for a task that runs in another thread, process or machine.
import { rm } from 'node:fs/promises';
import pLimit from 'p-limit';
import { CorruptObjectError, errorMessage } from '../errors.js';
import { RemoteObjectError, remoteHolds, type Remote } from '../remotes/remote.js';
import type { RemoteRef, StoreDescription } from './description.js';
import type { SizedRef } from './object-store.js';
import { Store } from './store.js';

export interface TieredStoreOptions {
  /** Pushes to the remote at once (default 4). */
  pushConcurrency?: number;
}

export class TieredStore extends Store {
  private connecting: Promise<void> | undefined;
  private readonly pushLimit: ReturnType<typeof pLimit>;
  private pending: Promise<void>[] = [];
  private failures: unknown[] = [];

  constructor(
    root: string,
    readonly remote: Remote,
    /** How the remote is named in this store's description (what a task is sent). */
    readonly remoteRef: RemoteRef,
    opts: TieredStoreOptions = {},
  ) {
    super(root);
    this.pushLimit = pLimit(opts.pushConcurrency ?? 4);
  }

  override describe(): StoreDescription {
    return { type: 'tiered', root: this.root, remote: this.remoteRef };
  }

  private connected(): Promise<void> {
    this.connecting ??= this.remote.connect();
    return this.connecting;
  }

  override async has(ref: SizedRef): Promise<boolean> {
    if (this.hasIntact(ref)) return true;
    await this.connected();
    return (await remoteHolds(this.remote, [ref])).has(ref.hash);
  }

  override async read(ref: SizedRef): Promise<Uint8Array> {
    if (!this.hasIntact(ref)) await this.fetch(ref);
    return super.read(ref);
  }

  /** Downloads one object into the local cache, after checking it against its name and size. */
  private async fetch(ref: SizedRef): Promise<void> {
    await this.connected();
    await this.init();
    const where = `${this.remote.describe()} (remote)`;
    const tmp = this.tmpName('fetch-', '.part');
    try {
      let got: { sha256: string; size: number };
      try {
        got = await this.remote.get(ref.hash, tmp);
      } catch (e) {
        if (e instanceof RemoteObjectError) throw new CorruptObjectError(ref.hash, where, `not in the local cache, and on the remote: ${e.reason}`);
        throw e;
      }
      if (got.sha256 !== ref.hash) throw new CorruptObjectError(ref.hash, where, `refused: its content hashes to ${got.sha256.slice(0, 12)}`);
      if (got.size !== ref.size) throw new CorruptObjectError(ref.hash, where, `refused: size ${got.size} but ${ref.size} expected`);
      await this.objects.adopt(tmp, ref.hash);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  override async put(bytes: Uint8Array): Promise<{ hash: string; size: number; written: boolean }> {
    const r = await super.put(bytes);
    // An object new to this cache is uploaded as it is (which also replaces a bad copy on the
    // remote); one that was here already only when the remote lacks it.
    this.push(r, !r.written);
    return r;
  }

  /**
   * Pushes the objects of `refs` (in this cache) that the remote lacks, and waits for it: a cache hit
   * found in the local tier may predate the remote, whose readers would not find it there.
   */
  async writeBack(refs: readonly SizedRef[]): Promise<void> {
    for (const ref of refs) this.push(ref, true);
    await this.flush();
  }

  private push(ref: SizedRef, onlyIfMissing: boolean): void {
    const push = this.pushLimit(async () => {
      await this.connected();
      // A copy of another size there (a truncated upload) is replaced.
      if (onlyIfMissing && (await remoteHolds(this.remote, [ref])).has(ref.hash)) return;
      await this.remote.put(ref.hash, this.objectPath(ref.hash), ref.size);
    }).catch((e: unknown) => {
      this.failures.push(e);
    });
    this.pending.push(push);
  }

  override async flush(): Promise<void> {
    while (this.pending.length > 0) await Promise.all(this.pending.splice(0));
    const failed = this.failures.splice(0);
    if (failed.length > 0) {
      throw new Error(`${failed.length} object(s) could not be written back to ${this.remote.describe()}: ${errorMessage(failed[0])}`);
    }
  }

  override async close(): Promise<void> {
    await Promise.all(this.pending.splice(0));
    await this.remote.close();
  }
}

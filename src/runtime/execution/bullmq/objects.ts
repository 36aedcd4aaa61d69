// The smallest read-through and write-back a worker without the coordinator's cache needs: an input
// object missing from its local cache is downloaded from the remote (hashed on the way, entering the
// cache only when it matches its name and size); an output is uploaded unless the remote has it.
import { rm } from 'node:fs/promises';
import { RemoteObjectError, type Remote } from '../../remotes/remote.js';
import { moveInto } from '../../sharing/sync.js';
import type { ObjectRef, Store } from '../../store/store.js';

/** Makes `ref` present and intact in `store`, from `remote` when it is not. */
export async function readThrough(store: Store, remote: Remote, ref: Pick<ObjectRef, 'hash' | 'size'>): Promise<'local' | 'fetched'> {
  if (store.hasIntact(ref)) return 'local';
  await store.init();
  const tmp = store.tmpName('fetch-', '.part');
  try {
    const got = await remote.get(ref.hash, tmp);
    if (got.sha256 !== ref.hash || got.size !== ref.size) {
      throw new RemoteObjectError(remote.describe(), ref.hash, `downloaded ${got.size} bytes hashing to ${got.sha256.slice(0, 12)}, expected ${ref.size} bytes`);
    }
    await moveInto(tmp, store.objectPath(ref.hash));
    return 'fetched';
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Uploads the objects of `refs` the remote lacks; returns how many were sent. */
export async function writeBack(store: Store, remote: Remote, refs: readonly Pick<ObjectRef, 'hash' | 'size'>[]): Promise<number> {
  const there = await remote.has(refs.map((r) => r.hash));
  let sent = 0;
  for (const r of refs) {
    if (there.has(r.hash)) continue;
    await remote.put(r.hash, store.objectPath(r.hash), r.size);
    there.add(r.hash);
    sent++;
  }
  return sent;
}

// A worker's cache hit that the remote lacks: what a tiered store writes back as a task stores its
// outputs, a hit found in the local tier (computed before the remote was used) uploads here.
import type { Remote } from '../../remotes/remote.js';
import type { ObjectRef, Store } from '../../store/store.js';

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

// The one way a task opens its store: from the StoreDescription it was given (task.ts, the worker
// thread through it, and exec-task.ts for a cluster job). A remote named in the description is
// resolved here, in the process that opens it, from this process's user config and environment
// (credentials never travel in a description).
import { UsageError } from '../errors.js';
import { remoteFromSpec, resolveRemote } from '../remotes/config.js';
import type { Remote } from '../remotes/remote.js';
import { storeDescriptionProblem, type RemoteRef, type StoreDescription } from './description.js';
import { Store } from './store.js';
import { TieredStore } from './tiered.js';

export type { RemoteRef, StoreDescription } from './description.js';

/** The remote a description names (relative directory paths resolve against `baseDir`). */
export async function remoteOf(ref: RemoteRef, baseDir: string): Promise<Remote> {
  if (typeof ref === 'string') return (await resolveRemote({ flag: ref, cwd: baseDir })).remote;
  return remoteFromSpec(ref, baseDir, 'store description: remote');
}

/** Opens the store a description names; close it (`store.close()`) when done. */
export async function openStore(d: StoreDescription): Promise<Store> {
  const problem = storeDescriptionProblem(d);
  if (problem) throw new UsageError(`store description: ${problem}`);
  if (d.type === 'local') return new Store(d.root);
  return new TieredStore(d.root, await remoteOf(d.remote, d.root), d.remote);
}

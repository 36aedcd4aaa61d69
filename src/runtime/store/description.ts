// How a task is told which store to open where it runs: data, never an open handle or a secret.
// A remote is named (a name in the user config, a directory path, an s3:// URL) or given by its
// settings (`{type: directory, path}` / `{type: s3, bucket, ...}`, as under `remotes:` in the user
// config, which take no credentials): the process that opens the store resolves the name from its
// own user config and takes credentials from its own environment (see remotes/config.ts).
import type { Json } from '../tensor.js';

/** A remote, as a task description can carry it. */
export type RemoteRef = string | Record<string, Json>;

export type StoreDescription =
  /** The cache directory (on a cluster: one every machine mounts at the same path). */
  | { type: 'local'; root: string }
  /** A local cache in front of a remote: objects read through, written back (tiered.ts). */
  | { type: 'tiered'; root: string; remote: RemoteRef };

/** Why `x` is not a store description, or undefined when it is one. */
export function storeDescriptionProblem(x: unknown): string | undefined {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return 'expected {type: "local", root} or {type: "tiered", root, remote}';
  const d = x as Record<string, unknown>;
  if (typeof d.root !== 'string' || d.root === '') return 'expected `root`, the local cache directory';
  if (d.type === 'local') return undefined;
  if (d.type !== 'tiered') return `unknown store type ${JSON.stringify(d.type ?? null)} (expected "local" or "tiered")`;
  const r = d.remote;
  if (typeof r === 'string' && r !== '') return undefined;
  if (r !== null && typeof r === 'object' && !Array.isArray(r)) return undefined;
  return 'a tiered store needs `remote`: a remote name, path or s3:// URL, or its settings';
}

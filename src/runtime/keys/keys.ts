// Keys: what a node instance's cache key is computed from (type, implementation version, resolved
// params but the execution-only ones, seed, the content hashes of its inputs, the hashes of the external files it reads, and
// the key environment its node type resolves on the machine that runs it), and which instances a
// run needs. The executor, `status`, a Slurm submission and `sieve exec-task` on a compute node
// all key an instance here, so they agree on every key.
import { relative } from 'node:path';
import { errorMessage } from '../errors.js';
import type { Plan, PlannedNode } from '../planning/plan-types.js';
import type { ExternalDepRecord, Store } from '../store/store.js';
import type { Json } from '../tensor.js';
import { keyParams, type ExternalDep, type NodeType } from '../types/node-type.js';
import { hashJson, type FileHasher } from './hash.js';

export const KEY_SCHEMA = 1;

/** What a node's key is computed from; the lockfile keeps it so `status` can say what changed. */
export interface KeyMaterial {
  type: string;
  version: string;
  params: Record<string, unknown>;
  seed: number;
  inputs: Record<string, string>;
  deps: { name: string; sha256: string }[];
  /** The node type's key environment (absent when it declares none, so other keys are unaffected). */
  environment?: Record<string, Json>;
}

export function computeKey(m: KeyMaterial): string {
  return hashJson({ sieve_key: KEY_SCHEMA, ...m } as Record<string, unknown>);
}

/** Where an instance is keyed: its node type, params and seed, and the directories its paths resolve in. */
export interface KeySite {
  node: NodeType<Record<string, unknown>>;
  typeName: string;
  nodeId: string;
  params: Record<string, Json>;
  seed: number;
  baseDir: string;
  cacheDir: string;
}

export function siteOf(n: PlannedNode, plan: Plan, store: Store): KeySite {
  return { node: n.registered.node, typeName: n.typeName, nodeId: n.nodeId, params: n.params, seed: n.seed, baseDir: plan.file.baseDir, cacheDir: store.root };
}

/** The external files an instance reads, with their hashes (paths relative to the pipeline's directory). */
export async function fingerprintDeps(site: Omit<KeySite, 'typeName' | 'seed'>, hasher: FileHasher): Promise<ExternalDepRecord[]> {
  const { node, nodeId, params, baseDir, cacheDir } = site;
  if (!node.fingerprint) return [];
  const deps: ExternalDep[] = await node.fingerprint({ nodeId, params, baseDir, cacheDir, hashFile: (p) => hasher.hash(p) });
  return deps.map((d) => ({ name: d.name, path: relative(baseDir, d.path) || '.', sha256: d.sha256, size: d.size }));
}

export function fingerprintNode(n: PlannedNode, plan: Plan, store: Store, hasher: FileHasher): Promise<ExternalDepRecord[]> {
  return fingerprintDeps(siteOf(n, plan, store), hasher);
}

/** What a node type's `keyEnvironment` resolves to here; undefined when it has none. */
export async function resolveEnvironment(node: NodeType<Record<string, unknown>>, params: Record<string, Json>): Promise<Record<string, Json> | undefined> {
  if (!node.keyEnvironment) return undefined;
  const env = await node.keyEnvironment(params);
  return Object.keys(env).length > 0 ? env : undefined;
}

export function nodeEnvironment(n: PlannedNode): Promise<Record<string, Json> | undefined> {
  return resolveEnvironment(n.registered.node, n.params);
}

/** The key material from its parts. */
export function materialOf(
  site: Pick<KeySite, 'node' | 'typeName' | 'params' | 'seed'>,
  inputs: Record<string, string>,
  deps: readonly ExternalDepRecord[],
  environment: Record<string, Json> | undefined,
): KeyMaterial {
  return {
    type: site.typeName, version: site.node.version, params: keyParams(site.node, site.params), seed: site.seed, inputs,
    deps: deps.map((d) => ({ name: d.name, sha256: d.sha256 })),
    ...(environment ? { environment } : {}),
  };
}

export interface InstanceKey {
  key: string;
  material: KeyMaterial;
  deps: ExternalDepRecord[];
  environment?: Record<string, Json>;
}

/**
 * Keys an instance whose inputs' content hashes are known; rejects with "cannot fingerprint its
 * external files: …" or "cannot resolve its key environment: …".
 */
export async function keyInstance(site: KeySite, inputs: Record<string, string>, hasher: FileHasher): Promise<InstanceKey> {
  let deps: ExternalDepRecord[];
  try {
    deps = await fingerprintDeps(site, hasher);
  } catch (e) {
    throw new Error(`cannot fingerprint its external files: ${errorMessage(e)}`);
  }
  let environment: Record<string, Json> | undefined;
  try {
    environment = await resolveEnvironment(site.node, site.params);
  } catch (e) {
    throw new Error(`cannot resolve its key environment: ${errorMessage(e)}`);
  }
  const material = materialOf(site, inputs, deps, environment);
  return { key: computeKey(material), material, deps, ...(environment ? { environment } : {}) };
}

/** Instances needed for `targets` (all when undefined). */
export function selectInstances(plan: Plan, targets: readonly string[] | undefined): Set<string> {
  if (!targets || targets.length === 0) return new Set(plan.nodes.keys());
  const wanted = new Set<string>();
  const todo = [...plan.nodes.values()].filter((n) => targets.includes(n.nodeId)).map((n) => n.instanceId);
  while (todo.length > 0) {
    const id = todo.pop()!;
    if (wanted.has(id)) continue;
    wanted.add(id);
    for (const e of Object.values(plan.nodes.get(id)!.inputs)) todo.push(e.instanceId);
  }
  return wanted;
}

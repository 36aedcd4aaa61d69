// `sieve status`: which nodes would run, and why — like `dvc status`, but down to the param or
// input that changed. It computes every key it can without running anything: a node's key is known
// when all its upstream nodes are up to date (their outputs are then known from the cache).
import type { NodeRecord } from '../execution/events.js';
import { FileHasher } from '../keys/hash.js';
import { computeKey, fingerprintNode, materialOf, nodeEnvironment } from '../keys/keys.js';
import { pointId } from '../planning/point-id.js';
import type { Plan, PlannedNode } from '../planning/plan-types.js';
import { describeOrigin, usableFor, type ObjectRef, type Store } from '../store/store.js';
import type { Json } from '../tensor.js';
import { keyParams } from '../types/node-type.js';
import { compareObjects, describeComparison } from './compare.js';
import type { Lockfile } from './lockfile.js';

export type NodeState = 'up-to-date' | 'stale';

export interface NodeStatusLine {
  point: string;
  nodeId: string;
  instanceId: string;
  type: string;
  state: NodeState;
  reasons: string[];
  key?: string;
  /** Where an up-to-date node's result came from: "computed here", "imported from bundle …", "pulled from remote …". */
  origin?: string;
}

interface Known {
  state: NodeState;
  outputs?: Record<string, ObjectRef>;
  key?: string;
  reasons: string[];
  origin?: string;
}

export async function pipelineStatus(plan: Plan, store: Store, lock: Lockfile | undefined): Promise<NodeStatusLine[]> {
  const hasher = new FileHasher(store.fileHashStatePath);
  await hasher.load();
  const known = new Map<string, Known>();
  const lines: NodeStatusLine[] = [];
  for (const n of plan.nodes.values()) known.set(n.instanceId, await nodeState(n, plan, store, hasher, known, lock));
  for (const [i, point] of plan.points.entries()) {
    for (const [nodeId, instanceId] of plan.pointNodes[i]) {
      const k = known.get(instanceId)!;
      lines.push({
        point: point.id, nodeId, instanceId, type: plan.nodes.get(instanceId)!.typeName, state: k.state, reasons: k.reasons, key: k.key,
        ...(k.origin ? { origin: k.origin } : {}),
      });
    }
  }
  return lines;
}

async function nodeState(
  n: PlannedNode, plan: Plan, store: Store, hasher: FileHasher, known: Map<string, Known>, lock: Lockfile | undefined,
): Promise<Known> {
  const entry = lockEntry(plan, n, lock);
  const locked = entry?.rec;
  const inputs: Record<string, string> = {};
  const staleInputs: string[] = [];
  for (const [port, edge] of Object.entries(n.inputs)) {
    const up = known.get(edge.instanceId)!;
    if (up.state === 'up-to-date' && up.outputs) inputs[port] = up.outputs[edge.port].hash;
    else staleInputs.push(`input ${port} comes from ${edge.nodeId}, which will run first`);
  }
  let environment: Record<string, Json> | undefined;
  try {
    environment = await nodeEnvironment(n);
  } catch (e) {
    return { state: 'stale', reasons: [`cannot resolve its key environment: ${(e as Error).message}`] };
  }
  const paramReasons = locked ? [...diffRecord(n, locked), ...diffEnvironment(locked.environment, environment)] : [];
  if (staleInputs.length > 0) return { state: 'stale', reasons: [...paramReasons, ...staleInputs] };
  const deps = await fingerprintNode(n, plan, store, hasher).catch(() => undefined);
  if (!deps) return { state: 'stale', reasons: ['an external file it reads is missing'] };
  const key = computeKey(materialOf({ node: n.registered.node, typeName: n.typeName, params: n.params, seed: n.seed }, inputs, deps, environment));
  const found = store.getAction(key);
  const action = found && usableFor(found, plan.file.path) ? found : undefined;
  if (action && (await store.hasAll(Object.values(action.outputs)))) {
    const reasons = locked && entry.exact && locked.key !== key
      ? ['cached, but the lockfile records another key (run to update it)', ...paramReasons, ...(await compareWithLock(store, action.outputs, locked))]
      : [];
    return { state: 'up-to-date', outputs: action.outputs, key, reasons, origin: describeOrigin(action.origin) };
  }
  if (found && !action && found.origin?.kind !== 'local') {
    return { state: 'stale', key, reasons: [`a result ${describeOrigin(found.origin)} for ${found.origin?.pipeline ?? '?'} is not used by this pipeline (\`sieve import --trust\` or \`trusted_remotes\` to use it)`] };
  }
  if (!locked) return { state: 'stale', key, reasons: ['never run (not in the lockfile)'] };
  const reasons = [...paramReasons];
  for (const [port, hash] of Object.entries(inputs)) {
    if (locked.inputs[port] !== hash) reasons.push(`input ${port} changed (from ${n.inputs[port].nodeId})`);
  }
  const oldDeps = new Map(locked.deps.map((d) => [d.name, d]));
  for (const d of deps) {
    const old = oldDeps.get(d.name);
    if (!old) reasons.push(`new external file ${d.path}`);
    else if (old.sha256 !== d.sha256) reasons.push(`external file ${d.path} changed`);
  }
  if (reasons.length === 0) {
    reasons.push(locked.key === key ? 'outputs are not in the local cache (run it, or `sieve pull`)' : 'key changed');
  }
  return { state: 'stale', key, reasons };
}

/** "backend changed: wasm → tfjs-node" for every key environment entry that differs. */
export function diffEnvironment(before: Record<string, Json> | undefined, after: Record<string, Json> | undefined): string[] {
  const show = (v: Json | undefined): string => (v === undefined ? '(unset)' : typeof v === 'string' ? v : JSON.stringify(v));
  const out: string[] = [];
  for (const k of new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])) {
    const [b, a] = [before?.[k], after?.[k]];
    if (JSON.stringify(b) !== JSON.stringify(a)) out.push(`${k} changed: ${show(b)} → ${show(a)}`);
  }
  return out;
}

/**
 * The outputs computed here against those the lockfile records, when both are in the local cache:
 * "output weights equal within tolerance (max abs diff 2.4e-7) to the lockfile's", and so on.
 */
async function compareWithLock(store: Store, outputs: Record<string, ObjectRef>, locked: NodeRecord): Promise<string[]> {
  const out: string[] = [];
  for (const [port, ref] of Object.entries(outputs)) {
    const old = locked.outputs[port];
    if (!old || !store.hasIntact(old)) continue;
    const c = await compareObjects((r) => store.read(r), ref, old).catch(() => undefined);
    if (c) out.push(`output ${port} ${describeComparison(c)} to the lockfile's`);
  }
  return out;
}

/**
 * What the lockfile recorded for this node: at one of its points; else, as a baseline to diff
 * against, at that point without the command line's `-p` assignments (the run before the `-p`);
 * else at any point.
 */
function lockEntry(plan: Plan, n: PlannedNode, lock: Lockfile | undefined): { rec: NodeRecord; exact: boolean } | undefined {
  if (!lock) return undefined;
  for (const i of n.points) {
    const rec = lock.points[plan.points[i].id]?.nodes[n.nodeId];
    if (rec) return { rec, exact: true };
  }
  for (const i of n.points) {
    const base = pointId(plan.points[i].assignments.filter((a) => !a.origin.startsWith('-p')));
    const rec = lock.points[base]?.nodes[n.nodeId];
    if (rec) return { rec, exact: false };
  }
  for (const point of Object.values(lock.points)) if (point.nodes[n.nodeId]) return { rec: point.nodes[n.nodeId], exact: false };
  return undefined;
}

function diffRecord(n: PlannedNode, locked: NodeRecord): string[] {
  const out: string[] = [];
  if (locked.type !== n.typeName) out.push(`type ${locked.type} → ${n.typeName}`);
  else if (locked.version !== n.registered.node.version) out.push(`implementation version ${locked.version} → ${n.registered.node.version}`);
  if (locked.seed !== n.seed) out.push(`seed ${locked.seed} → ${n.seed}`);
  // Execution-only params (threads, batch size) never make a node stale.
  const before = flatten(keyParams(n.registered.node, locked.params));
  const after = flatten(keyParams(n.registered.node, n.params));
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (before[k] !== after[k]) out.push(`param ${k}: ${before[k] ?? '(unset)'} → ${after[k] ?? '(unset)'}`);
  }
  return out;
}

/** Flattens nested params to dotted paths with JSON-text values. */
export function flatten(obj: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = JSON.stringify(obj);
  }
  return out;
}

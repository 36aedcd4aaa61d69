// One node instance as a task of its own, described by a file: what a cluster job runs
// (`sieve exec-task <task.json>`) on a machine that shares the cache directory. The task names the
// node type (by module), its params and seed, and where each input comes from: a known object, an
// action already in the cache, or the result file of an upstream task (whose key the job reads when
// it starts). The job computes its key exactly as the local executor does, reuses a cached action or
// runs the node, and writes its outputs and action record atomically, then its result file.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ownModulePath, ownModuleUrl } from '../../module-paths.js';
import { TaskInputError, UsageError, errorMessage } from '../errors.js';
import { FileHasher } from '../keys/hash.js';
import { keyInstance } from '../keys/keys.js';
import type { Plan, PlannedNode } from '../planning/plan-types.js';
import { storeDescriptionProblem, type StoreDescription } from '../store/description.js';
import { writeFileAtomic } from '../store/atomic-file.js';
import { openStore } from '../store/open.js';
import { type ActionRecord, type ObjectRef, type Store } from '../store/store.js';
import type { Json } from '../tensor.js';
import { importNodeType } from '../types/node-module.js';
import type { NodeType } from '../types/node-type.js';
import { nowMs } from './clock.js';
import type { InstanceDescription } from './instance-description.js';
import { runTaskIn } from './task.js';

export const TASK_FORMAT = 'sieve-task';
export const TASK_RESULT_FORMAT = 'sieve-task-result';

// Where a task finds the cache: a directory every machine mounts at the same path, or a local
// cache in front of a remote (see store/description.ts).
export type { StoreDescription } from '../store/description.js';
export { openStore } from '../store/open.js';

/** Where an input comes from. */
export type TaskInput =
  /** An object whose content is known when the task is written. */
  | { ref: ObjectRef }
  /** An output of an action already in the cache. */
  | { key: string; port: string; nodeId: string }
  /** An output of an upstream task, found through its result file when this task starts. */
  | { result: string; port: string; nodeId: string };

/** The module of a node type: one of Sieve's own (resolved in the Sieve that runs the task), or a URL. */
export type NodeModule = { builtin: string } | { url: string };

export interface TaskFile extends InstanceDescription {
  format: typeof TASK_FORMAT;
  version: 1;
  node: { type: string; version: string; module: NodeModule };
  inputs: Record<string, TaskInput>;
  store: StoreDescription;
  /** Where the task writes its result (a TaskResultFile). */
  result: string;
}

export interface TaskResultFile {
  format: typeof TASK_RESULT_FORMAT;
  status: 'ran' | 'cached' | 'failed';
  instanceId: string;
  nodeId: string;
  key?: string;
  outputs?: Record<string, ObjectRef>;
  /** The key environment the node type resolved on the machine that ran it. */
  environment?: Record<string, Json>;
  error?: string;
  host: string;
  ms: number;
  finishedAt: string;
}

/** The module description of a registered node type, or undefined when it has no module to import. */
export function nodeModuleOf(moduleUrl: string | undefined): NodeModule | undefined {
  if (!moduleUrl) return undefined;
  const own = ownModulePath(moduleUrl);
  return own ? { builtin: own } : { url: moduleUrl };
}

export interface TaskPlacement {
  store: StoreDescription;
  sieveVersion: string;
  /** The result file of an instance's task. */
  resultPath(instanceId: string): string;
  /** Keys of the instances already in the cache (their outputs are read from their action records). */
  cachedKeys: ReadonlyMap<string, string>;
}

/** The task of one planned instance; its inputs come from cached actions or from upstream tasks' results. */
export function taskFor(plan: Plan, n: PlannedNode, at: TaskPlacement): TaskFile {
  const module = nodeModuleOf(n.registered.moduleUrl);
  if (!module) throw new UsageError(`node type "${n.typeName}" (node ${n.nodeId}) was registered without a module URL: it cannot run as a task`);
  const inputs: Record<string, TaskInput> = {};
  for (const [port, edge] of Object.entries(n.inputs)) {
    const key = at.cachedKeys.get(edge.instanceId);
    inputs[port] = key
      ? { key, port: edge.port, nodeId: edge.nodeId }
      : { result: at.resultPath(edge.instanceId), port: edge.port, nodeId: edge.nodeId };
  }
  return {
    format: TASK_FORMAT, version: 1, sieveVersion: at.sieveVersion, pipeline: plan.file.path,
    instanceId: n.instanceId, nodeId: n.nodeId,
    node: { type: n.typeName, version: n.registered.node.version, module },
    params: n.params, seed: n.seed, baseDir: plan.file.baseDir, inputs, outputs: n.ports.outputs,
    store: at.store, result: at.resultPath(n.instanceId),
  };
}

function fail(path: string, field: string, message: string): never {
  throw new UsageError(`${path}: ${field}: ${message}`);
}

const isObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);

/** Reads and checks a task file; a malformed one is a usage error naming the field. */
export function readTaskFile(path: string): TaskFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read task file ${path}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`);
  }
  if (!isObject(raw)) fail(path, '', 'expected a JSON object');
  if (raw.format !== TASK_FORMAT || raw.version !== 1) fail(path, 'format', `expected "${TASK_FORMAT}" version 1, got ${JSON.stringify(raw.format)} ${JSON.stringify(raw.version)}`);
  for (const f of ['sieveVersion', 'pipeline', 'instanceId', 'nodeId', 'baseDir', 'result'] as const) {
    if (typeof raw[f] !== 'string') fail(path, f, 'expected a string');
  }
  if (typeof raw.seed !== 'number') fail(path, 'seed', 'expected a number');
  const node = raw.node;
  if (!isObject(node) || typeof node.type !== 'string' || typeof node.version !== 'string' || !isObject(node.module)) {
    fail(path, 'node', 'expected {type, version, module}');
  }
  if (typeof node.module.builtin !== 'string' && typeof node.module.url !== 'string') fail(path, 'node.module', 'expected {builtin} or {url}');
  for (const f of ['params', 'inputs', 'outputs'] as const) if (!isObject(raw[f])) fail(path, f, 'expected an object');
  for (const [port, input] of Object.entries(raw.inputs as Record<string, unknown>)) {
    const ok =
      isObject(input) &&
      ((isObject(input.ref) && typeof input.ref.hash === 'string') ||
        (typeof input.key === 'string' && typeof input.port === 'string') ||
        (typeof input.result === 'string' && typeof input.port === 'string'));
    if (!ok) fail(path, `inputs.${port}`, 'expected {ref}, {key, port, nodeId} or {result, port, nodeId}');
  }
  const problem = storeDescriptionProblem(raw.store);
  if (problem) fail(path, 'store', problem);
  return raw as unknown as TaskFile;
}

export interface ExecTaskOptions {
  /** Lines for the job's log (progress, node logs). */
  log(line: string): void;
  signal?: AbortSignal;
}

/** Resolves one input to the object it names; throws with the upstream node named when it cannot. */
async function resolveInput(port: string, input: TaskInput, store: Store): Promise<ObjectRef> {
  if ('ref' in input) return input.ref;
  let key: string;
  if ('result' in input) {
    let result: TaskResultFile;
    try {
      result = JSON.parse(readFileSync(input.result, 'utf8')) as TaskResultFile;
    } catch {
      throw new TaskInputError(port, input.nodeId, `${input.nodeId} has no result yet (${input.result}): did its job run?`);
    }
    if (result.status === 'failed' || !result.key) throw new TaskInputError(port, input.nodeId, `${input.nodeId} failed: ${result.error ?? 'no key'}`);
    key = result.key;
  } else key = input.key;
  const action = store.getAction(key);
  const ref = action?.outputs[input.port];
  if (!ref) throw new TaskInputError(port, input.nodeId, `the cache has no action ${key.slice(0, 12)} with output ${input.port} (from ${input.nodeId})`);
  if (!(await store.has(ref))) throw new TaskInputError(port, input.nodeId, `object ${ref.hash.slice(0, 12)} from ${input.nodeId} is missing or truncated in the cache`);
  return ref;
}

async function loadNode(task: TaskFile): Promise<NodeType<Record<string, unknown>>> {
  const m = task.node.module;
  const url = 'builtin' in m ? ownModuleUrl(m.builtin) : m.url;
  const node = await importNodeType(url, task.node.type);
  if (node.version !== task.node.version) {
    throw new Error(
      `node type ${task.node.type} is version ${node.version} here, but the task was planned with version ${task.node.version} ` +
        `(submitted by Sieve ${task.sieveVersion}): the compute node must run the same Sieve and plugins`,
    );
  }
  return node;
}

/**
 * Runs the task: key, cache hit or execution, action record, result file. Resolves to the result
 * (also written to `task.result`); a failure is a result with status "failed", not a throw.
 */
export async function execTask(task: TaskFile, opts: ExecTaskOptions): Promise<TaskResultFile> {
  const t0 = nowMs();
  let store: Store;
  try {
    store = await openStore(task.store);
  } catch (e) {
    // No store to run in (a remote whose settings are wrong, say): whoever waits on the result file still learns why.
    opts.log(`${task.nodeId}: failed: ${errorMessage(e)}`);
    return writeResult(task, t0, { status: 'failed', error: errorMessage(e) });
  }
  try {
    return await execTaskIn(store, task, opts, t0);
  } finally {
    await store.close();
  }
}

type ResultFields = Omit<TaskResultFile, 'format' | 'instanceId' | 'nodeId' | 'host' | 'ms' | 'finishedAt'>;

/** Writes the task's result file atomically: through `tmpDir` (the cache's tmp/) when given and on its filesystem, else beside it. */
async function writeResult(task: TaskFile, t0: number, r: ResultFields, tmpDir?: string): Promise<TaskResultFile> {
  const result: TaskResultFile = {
    format: TASK_RESULT_FORMAT, instanceId: task.instanceId, nodeId: task.nodeId, ...r,
    host: hostname(), ms: Math.round(nowMs() - t0), finishedAt: new Date().toISOString(),
  };
  await writeFileAtomic(task.result, `${JSON.stringify(result, null, 1)}\n`, tmpDir);
  return result;
}

async function execTaskIn(store: Store, task: TaskFile, opts: ExecTaskOptions, t0: number): Promise<TaskResultFile> {
  await store.init();
  const finish = (r: ResultFields): Promise<TaskResultFile> => writeResult(task, t0, r, store.tmpDir);
  let key: string | undefined;
  try {
    const node = await loadNode(task);
    const inputs: Record<string, ObjectRef> = {};
    for (const [port, input] of Object.entries(task.inputs)) inputs[port] = await resolveInput(port, input, store);
    const hasher = new FileHasher(store.fileHashStatePath);
    await hasher.load();
    const site = { node, typeName: task.node.type, nodeId: task.nodeId, params: task.params, seed: task.seed, baseDir: task.baseDir, cacheDir: store.root };
    const keyed = await keyInstance(site, Object.fromEntries(Object.entries(inputs).map(([k, r]) => [k, r.hash])), hasher);
    await hasher.save().catch(() => undefined);
    const { deps, environment } = keyed;
    key = keyed.key;
    const hit = await store.usableHit(key, task.pipeline);
    if (hit) {
      opts.log(`${task.nodeId}: cached (key ${key.slice(0, 12)})`);
      return await finish({ status: 'cached', key, outputs: hit.outputs, ...(environment ? { environment } : {}) });
    }
    opts.log(`${task.nodeId}: running (key ${key.slice(0, 12)}) on ${hostname()}`);
    let lastProgress = 0;
    const tRun = nowMs();
    const result = await runTaskIn(
      store,
      node,
      {
        nodeId: task.nodeId, typeName: task.node.type, params: task.params, seed: task.seed, inputs,
        outputs: task.outputs, store: task.store, baseDir: task.baseDir, ...(environment ? { environment } : {}),
      },
      {
        progress: (done, total, unit) => {
          if (nowMs() - lastProgress < 2000 && done !== total) return;
          lastProgress = nowMs();
          opts.log(`progress ${done}${total !== undefined ? `/${total}` : ''}${unit ? ` ${unit}` : ''}`);
        },
        log: (m) => opts.log(m),
        signal: opts.signal ?? new AbortController().signal,
      },
    );
    const action: ActionRecord = {
      key, type: task.node.type, version: node.version, outputs: result.outputs, deps, notes: result.notes, durationMs: Math.round(nowMs() - tRun),
    };
    await store.putAction(action);
    opts.log(`${task.nodeId}: done in ${action.durationMs} ms`);
    return await finish({ status: 'ran', key, outputs: result.outputs, ...(environment ? { environment } : {}) });
  } catch (e) {
    if (e instanceof Error && e.stack) opts.log(e.stack);
    opts.log(`${task.nodeId}: failed: ${errorMessage(e)}`);
    return finish({ status: 'failed', key, error: errorMessage(e) });
  }
}

// Running one node: open the store the request describes, read its inputs (verifying them; a tiered
// store reads them through from its remote), call the implementation, encode and store its outputs,
// and wait until they are written back (`flush`) before reporting completion. The same function
// runs on the main thread, inside a worker thread and in `sieve exec-task`.
import { readdir, rm } from 'node:fs/promises';
import { decodeArtifact, encodeArtifact } from '../store/artifact.js';
import { openStore } from '../store/open.js';
import type { ObjectRef, Store, StoreDescription } from '../store/store.js';
import type { Json } from '../tensor.js';
import type { NodeType, OutputPort, PortValue } from '../types/node-type.js';

export interface TaskRequest {
  nodeId: string;
  typeName: string;
  params: Record<string, Json>;
  seed: number;
  inputs: Record<string, ObjectRef>;
  outputs: Record<string, OutputPort>;
  /** The store to read inputs from and write outputs to, opened where the task runs. */
  store: StoreDescription;
  baseDir: string;
  /** The node type's resolved key environment, if it declares one. */
  environment?: Record<string, Json>;
}

export interface TaskResult {
  outputs: Record<string, ObjectRef>;
  notes: Record<string, Json>;
}

export interface TaskHooks {
  progress(done: number, total: number | undefined, unit: string | undefined): void;
  log(message: string): void;
  signal: AbortSignal;
  /** Waiting in a queue for a worker (a queue executor). */
  queued?(): void;
  /** Where it runs, when that is another machine (a queue worker's name). */
  where?(worker: string): void;
}

/** An output the node declared but did not return, or returned but did not declare. */
export class OutputContractError extends Error {
  override name = 'OutputContractError';
}

export async function runTask(node: NodeType<Record<string, unknown>>, req: TaskRequest, hooks: TaskHooks): Promise<TaskResult> {
  const store = await openStore(req.store);
  try {
    return await runTaskIn(store, node, req, hooks);
  } finally {
    await store.close();
  }
}

/** `runTask` in a store already open (the caller closes it). */
export async function runTaskIn(store: Store, node: NodeType<Record<string, unknown>>, req: TaskRequest, hooks: TaskHooks): Promise<TaskResult> {
  const inputs: Record<string, PortValue> = {};
  for (const [port, ref] of Object.entries(req.inputs)) inputs[port] = decodeArtifact(ref, await store.read(ref));
  const scratchDir = await store.makeScratchDir();
  const notes: Record<string, Json> = {};
  let failed = false;
  try {
    const values = await node.run({
      nodeId: req.nodeId,
      params: req.params,
      seed: req.seed,
      inputs,
      baseDir: req.baseDir,
      cacheDir: store.root,
      scratchDir,
      signal: hooks.signal,
      progress: (done, total, unit) => hooks.progress(done, total, unit),
      log: (m) => hooks.log(m),
      note: (k, v) => {
        notes[k] = v;
      },
      ...(req.environment ? { environment: req.environment } : {}),
    });
    const extra = Object.keys(values).filter((k) => !(k in req.outputs));
    if (extra.length > 0) throw new OutputContractError(`returned undeclared output(s) ${extra.join(', ')}`);
    const outputs: Record<string, ObjectRef> = {};
    for (const [port, spec] of Object.entries(req.outputs)) {
      if (!(port in values)) throw new OutputContractError(`did not produce declared output "${port}"`);
      const enc = encodeArtifact(port, spec, values[port]);
      const { hash, size } = await store.put(enc.bytes);
      outputs[port] = { hash, size, kind: enc.kind, ...(enc.dtype ? { dtype: enc.dtype, shape: enc.shape } : {}) };
    }
    // Complete only once its outputs are wherever the store keeps them (a tiered store's remote).
    await store.flush();
    return { outputs, notes };
  } catch (e) {
    // A failed node's scratch folder (a command's input files, its partial outputs) is kept for a
    // look or a rerun by hand; `sieve gc` removes it after an hour.
    failed = (await readdir(scratchDir).catch(() => [])).length > 0;
    if (failed && e instanceof Error) e.message += `\nscratch folder kept: ${scratchDir}`;
    throw e;
  } finally {
    if (!failed) await rm(scratchDir, { recursive: true, force: true });
  }
}

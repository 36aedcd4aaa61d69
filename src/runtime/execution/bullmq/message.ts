// What travels on the queue: a task *description* (node type and version, params, seed, the
// content hashes of its inputs, the outputs it must declare, the name of the remote its outputs go
// to) and, back, what the worker stored. Never code, never a module path, never a credential: a
// worker runs only node types it has itself, and reaches the remote with its own configuration.
import type { ActionRecord, ObjectRef } from '../../store/store.js';
import type { Json } from '../../tensor.js';
import type { InstanceDescription } from '../instance-description.js';

export const TASK_MESSAGE_FORMAT = 'sieve-bullmq-task';

export interface TaskMessage extends InstanceDescription {
  format: typeof TASK_MESSAGE_FORMAT;
  version: 1;
  inputs: Record<string, ObjectRef>;
  /** The key the coordinator computed. */
  key: string;
  /** The name of the remote the outputs must reach before completion is reported; absent: a shared cache. */
  remote?: string;
}

/** A job's progress: who runs it and how far it is. */
export interface TaskProgress {
  worker: string;
  done?: number;
  total?: number;
  unit?: string;
}

/** A completed job's return value. */
export interface TaskReply {
  status: 'ran' | 'cached';
  worker: string;
  action: ActionRecord;
  /** The key environment resolved on the worker (its key follows it). */
  environment?: Record<string, Json>;
  /** Set when the outputs were pushed to (or found on) this remote. */
  remote?: string;
}

const isObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
const HEX64 = /^[0-9a-f]{64}$/;

/** Checks a message taken off the queue (anyone with access to Redis can write one); returns why it is malformed. */
export function checkTaskMessage(raw: unknown): string | undefined {
  if (!isObject(raw)) return 'not an object';
  if (raw.format !== TASK_MESSAGE_FORMAT || raw.version !== 1) return `format ${JSON.stringify(raw.format)} version ${JSON.stringify(raw.version)}, expected ${TASK_MESSAGE_FORMAT} 1`;
  for (const f of ['sieveVersion', 'pipeline', 'instanceId', 'nodeId', 'baseDir', 'key'] as const) if (typeof raw[f] !== 'string') return `${f}: expected a string`;
  if (!HEX64.test(raw.key as string)) return 'key: expected a sha256 hex digest';
  if (typeof raw.seed !== 'number') return 'seed: expected a number';
  if (!isObject(raw.node) || typeof raw.node.type !== 'string' || typeof raw.node.version !== 'string') return 'node: expected {type, version}';
  for (const f of ['params', 'inputs', 'outputs'] as const) if (!isObject(raw[f])) return `${f}: expected an object`;
  for (const [port, ref] of Object.entries(raw.inputs as Record<string, unknown>)) {
    if (!isObject(ref) || typeof ref.hash !== 'string' || !HEX64.test(ref.hash) || typeof ref.size !== 'number') return `inputs.${port}: expected {hash, size, kind}`;
  }
  if (raw.remote !== undefined && typeof raw.remote !== 'string') return 'remote: expected a name';
  return undefined;
}

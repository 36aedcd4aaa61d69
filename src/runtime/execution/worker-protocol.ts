// The messages between a runner and the process or thread that runs a task for it, and how an
// error crosses that boundary: its name, message and stack survive, and a corrupt input comes back
// as a CorruptObjectError, so the executor can recompute the input's producer and retry.
import { CorruptObjectError } from '../errors.js';
import type { TaskRequest, TaskResult } from './task.js';

export interface WorkerMessage {
  id: number;
  moduleUrl: string;
  request: TaskRequest;
}

/** An error as data. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  corrupt?: { hash: string; path: string; reason: string };
}

export type WorkerReply =
  | { id: number; kind: 'progress'; done: number; total?: number; unit?: string }
  | { id: number; kind: 'log'; message: string }
  | { id: number; kind: 'done'; result: TaskResult }
  | ({ id: number; kind: 'error' } & SerializedError);

/** An error raised where the task ran, rebuilt here with its original name and stack. */
export class WorkerTaskError extends Error {
  constructor(name: string, message: string, readonly workerStack?: string) {
    super(message);
    this.name = name;
  }
}

export function serializeError(e: unknown): SerializedError {
  const err = e as Error & { hash?: string; path?: string; reason?: string };
  return {
    name: err?.name ?? 'Error', message: err?.message ?? String(e), stack: err?.stack,
    corrupt: err?.name === 'CorruptObjectError' ? { hash: err.hash!, path: err.path!, reason: err.reason! } : undefined,
  };
}

export function deserializeError(e: SerializedError): Error {
  return e.corrupt ? new CorruptObjectError(e.corrupt.hash, e.corrupt.path, e.corrupt.reason) : new WorkerTaskError(e.name, e.message, e.stack);
}

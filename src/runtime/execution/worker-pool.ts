// A small pool of worker threads for CPU-heavy nodes: the main thread stays free to draw progress,
// and `--jobs N` gets N cores. Workers are reused, so a heavy import (tfjs) is paid once per worker.
import type { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ownModuleUrl, runningFromSources } from '../../module-paths.js';
import type { TaskHooks, TaskRequest, TaskResult } from './task.js';
import { deserializeError, type WorkerMessage, type WorkerReply } from './worker-protocol.js';

// Worker threads cannot load TypeScript by themselves; from sources (tests, `tsx`) the bootstrap
// registers tsx first. Compiled builds load worker.js directly.
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsxApi) { const { register } = await import(workerData.tsxApi); register(); }
  await import(workerData.entry);
})().catch((e) => { console.error(e); process.exit(1); });
`;

/**
 * Starts a worker thread on one of Sieve's own modules (path below src/ without extension), from
 * sources (registering tsx first) as from a build.
 */
export function spawnModuleWorker(Worker: typeof import('node:worker_threads').Worker, path: string, workerData: Record<string, unknown> = {}): Worker {
  const entry = ownModuleUrl(path);
  const tsxApi = runningFromSources ? pathToFileURL(join(dirname(createRequire(entry).resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href : undefined;
  return new Worker(BOOTSTRAP, { eval: true, workerData: { ...workerData, entry, tsxApi } });
}

interface Slot {
  worker: Worker;
  busy: boolean;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private readonly waiting = new Map<number, { hooks: TaskHooks; resolve(r: TaskResult): void; reject(e: Error): void; slot: Slot }>();

  constructor(private readonly size: number) {}

  private spawn(Worker: typeof import('node:worker_threads').Worker): Slot {
    const worker = spawnModuleWorker(Worker, 'runtime/execution/worker');
    worker.unref();
    const slot: Slot = { worker, busy: false };
    worker.on('message', (r: WorkerReply) => this.onReply(r));
    worker.on('error', (e) => this.failSlot(slot, e));
    worker.on('exit', (code) => {
      this.slots.splice(this.slots.indexOf(slot), 1);
      if (code !== 0) this.failSlot(slot, new Error(`worker thread exited with code ${code}`));
    });
    this.slots.push(slot);
    return slot;
  }

  private failSlot(slot: Slot, e: Error): void {
    for (const [id, w] of this.waiting) {
      if (w.slot === slot) {
        this.waiting.delete(id);
        w.reject(e);
      }
    }
  }

  private onReply(r: WorkerReply): void {
    const w = this.waiting.get(r.id);
    if (!w) return;
    switch (r.kind) {
      case 'progress':
        w.hooks.progress(r.done, r.total, r.unit);
        return;
      case 'log':
        w.hooks.log(r.message);
        return;
      case 'done':
        this.waiting.delete(r.id);
        w.slot.busy = false;
        w.resolve(r.result);
        return;
      case 'error':
        this.waiting.delete(r.id);
        w.slot.busy = false;
        w.reject(deserializeError(r));
    }
  }

  /** Runs a task on an idle worker (the caller bounds concurrency to the pool size). */
  async run(moduleUrl: string, request: TaskRequest, hooks: TaskHooks): Promise<TaskResult> {
    // Imported on first use: a run whose nodes are all cached never starts a worker.
    const { Worker } = await import('node:worker_threads');
    const slot = this.slots.find((s) => !s.busy) ?? (this.slots.length < this.size ? this.spawn(Worker) : undefined);
    if (!slot) throw new Error('worker pool exhausted: callers must bound concurrency to the pool size');
    slot.busy = true;
    slot.worker.ref();
    const id = this.nextId++;
    const abort = (): void => {
      void slot.worker.terminate();
    };
    hooks.signal.addEventListener('abort', abort, { once: true });
    return new Promise<TaskResult>((resolve, reject) => {
      this.waiting.set(id, { hooks, resolve, reject, slot });
      slot.worker.postMessage({ id, moduleUrl, request } satisfies WorkerMessage);
    }).finally(() => {
      hooks.signal.removeEventListener('abort', abort);
      slot.worker.unref();
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

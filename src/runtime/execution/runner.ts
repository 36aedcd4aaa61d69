// Runners: where a node instance's execution happens. The executor decides what runs (keys, cache
// hits, dependencies, shared instances) and hands each execution to its runner, which holds
// `slots` of them at once: on the main thread (I/O-bound node types), in worker threads
// (compute node types), or as a cluster job (slurm/runner.ts).
import type { ActionRecord } from '../store/store.js';
import type { Json } from '../tensor.js';
import { runsInWorker } from '../types/node-type.js';
import type { RegisteredNode } from '../types/registry.js';
import { runTask, type TaskHooks, type TaskRequest, type TaskResult } from './task.js';
import { WorkerPool } from './worker-pool.js';

export interface RunnerTask {
  instanceId: string;
  node: RegisteredNode;
  request: TaskRequest;
  /** The key the executor computed for it. */
  key: string;
}

export interface RunnerResult extends TaskResult {
  /** Set when the execution stored its action record itself (a cluster job): kept as it is. */
  action?: ActionRecord;
  /**
   * The key environment resolved where it ran, when that was another machine: its key (the
   * action's) then follows that machine's environment, which the lockfile records.
   */
  environment?: Record<string, Json>;
}

export interface Runner {
  /** Executions it holds at once. */
  readonly slots: number;
  run(task: RunnerTask, hooks: TaskHooks): Promise<RunnerResult>;
  close(): Promise<void>;
}

/** On the main thread, as async functions. */
export class InProcessRunner implements Runner {
  constructor(readonly slots: number) {}

  run(task: RunnerTask, hooks: TaskHooks): Promise<RunnerResult> {
    return runTask(task.node.node, task.request, hooks);
  }

  async close(): Promise<void> {}
}

/** In a pool of worker threads, which import the node type by its module URL. */
export class WorkerThreadRunner implements Runner {
  private readonly pool: WorkerPool;

  constructor(readonly slots: number) {
    this.pool = new WorkerPool(slots);
  }

  run(task: RunnerTask, hooks: TaskHooks): Promise<RunnerResult> {
    if (!task.node.moduleUrl) throw new Error(`node type ${task.request.typeName} has no module URL for a worker thread`);
    return this.pool.run(task.node.moduleUrl, task.request, hooks);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/**
 * This machine: compute node types (those that declare resource hints and come from a module) in
 * worker threads, the others on the main thread; `jobs` executions at once in all.
 */
export class LocalRunner implements Runner {
  private readonly inProcess: InProcessRunner;
  private readonly threads: WorkerThreadRunner;

  constructor(readonly slots: number) {
    this.inProcess = new InProcessRunner(slots);
    this.threads = new WorkerThreadRunner(slots);
  }

  run(task: RunnerTask, hooks: TaskHooks): Promise<RunnerResult> {
    return runsInWorker(task.node.node) && task.node.moduleUrl ? this.threads.run(task, hooks) : this.inProcess.run(task, hooks);
  }

  async close(): Promise<void> {
    await Promise.all([this.inProcess.close(), this.threads.close()]);
  }
}

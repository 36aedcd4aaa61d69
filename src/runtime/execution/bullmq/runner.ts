// The coordinator's runner: `run` enqueues the instance's task under a job id derived from its key
// (so coordinators sharing one Redis enqueue it once, and a coordinator started again finds what its
// predecessor enqueued) and resolves when the job completes. The executor calls `run` only once an
// instance's inputs are ready, so dependents are enqueued as completions arrive. A completion is
// trusted only once the outputs it names are here (shared cache) or on the remote, with their sizes
// and hashes: the coordinator's tiered store reads them through (which checks both).
import { Job, Queue, QueueEvents } from 'bullmq';
import { CompletionRefusedError, errorMessage } from '../../errors.js';
import { remoteHolds, type Remote } from '../../remotes/remote.js';
import type { Store } from '../../store/store.js';
import type { Runner, RunnerResult, RunnerTask } from '../runner.js';
import type { TaskHooks } from '../task.js';
import { QUEUE_NAME, jobIdOf, redisOptions, type RedisLocation } from './connection.js';
import { TASK_MESSAGE_FORMAT, type TaskMessage, type TaskProgress, type TaskReply } from './message.js';

export interface BullmqRunnerOptions {
  redis: RedisLocation;
  /** The coordinator's cache (a TieredStore over `remote` when the workers share only that). */
  store: Store;
  pipeline: string;
  sieveVersion: string;
  /** Workers share only this remote: outputs are checked (and fetched) there. */
  remote?: { name: string; remote: Remote };
  /** Attempts after the first failed one (default 2). */
  retries?: number;
  /** The first retry's delay; each next one doubles it (default 1000 ms). */
  backoffMs?: number;
  /** How often a job's state is read when no event arrives (default 1000 ms). */
  pollMs?: number;
}

/** A task that failed on its last attempt: its error and the worker it ran on. */
export class WorkerTaskFailed extends Error {
  override name = 'WorkerTaskFailed';
  constructor(readonly reason: string, readonly worker: string | undefined, readonly attempts: number) {
    super(`${reason} (on worker ${worker ?? '?'}, after ${attempts} attempt(s))`);
  }
}

const DAY_S = 24 * 3600;

export class BullmqRunner implements Runner {
  /** Every ready instance is enqueued at once; the workers' concurrency bounds what runs. */
  readonly slots = 1_000_000;
  private readonly queue: Queue<TaskMessage, TaskReply>;
  private readonly events: QueueEvents;
  private readonly wakers = new Map<string, Set<() => void>>();
  private readonly pollMs: number;

  constructor(private readonly opts: BullmqRunnerOptions) {
    this.pollMs = opts.pollMs ?? 1000;
    this.queue = new Queue<TaskMessage, TaskReply>(QUEUE_NAME, { connection: redisOptions(opts.redis) });
    this.events = new QueueEvents(QUEUE_NAME, { connection: redisOptions(opts.redis) });
    // Connection errors while Redis restarts: the clients reconnect by themselves.
    this.queue.on('error', () => undefined);
    this.events.on('error', () => undefined);
    for (const name of ['completed', 'failed', 'progress', 'active', 'removed'] as const) {
      this.events.on(name, (e: { jobId: string }) => this.wake(e.jobId));
    }
  }

  private wake(jobId: string): void {
    for (const w of this.wakers.get(jobId) ?? []) w();
  }

  /** Until an event for the job or the poll period, whichever comes first. */
  private wait(jobId: string): Promise<void> {
    return new Promise((done) => {
      const set = this.wakers.get(jobId) ?? new Set();
      this.wakers.set(jobId, set);
      const finish = (): void => {
        clearTimeout(timer);
        set.delete(finish);
        if (set.size === 0) this.wakers.delete(jobId);
        done();
      };
      const timer = setTimeout(finish, this.pollMs);
      set.add(finish);
    });
  }

  private message(task: RunnerTask): TaskMessage {
    const r = task.request;
    return {
      format: TASK_MESSAGE_FORMAT, version: 1, sieveVersion: this.opts.sieveVersion, pipeline: this.opts.pipeline,
      instanceId: task.instanceId, nodeId: r.nodeId, node: { type: r.typeName, version: task.node.node.version },
      params: r.params, seed: r.seed, baseDir: r.baseDir, inputs: r.inputs, outputs: r.outputs, key: task.key,
      ...(this.opts.remote ? { remote: this.opts.remote.name } : {}),
    };
  }

  /**
   * Adds the job unless one with its id is queued, running or done; a failed one is replaced, and so
   * is a done one whose outputs are not where this coordinator looks (another cache on the same Redis).
   */
  private async enqueue(jobId: string, msg: TaskMessage): Promise<void> {
    // The state first: a job read before it completed has no return value yet.
    const state = await this.queue.getJobState(jobId);
    const existing = state === 'failed' || state === 'completed' ? await Job.fromId<TaskMessage, TaskReply>(this.queue, jobId) : undefined;
    if (existing && (state === 'failed' || !(await this.reachable(existing.returnvalue)))) {
      await existing.remove().catch(() => undefined);
    }
    const retries = this.opts.retries ?? 2;
    await this.queue.add('task', msg, {
      jobId, attempts: retries + 1, backoff: { type: 'exponential', delay: this.opts.backoffMs ?? 1000 },
      removeOnComplete: { age: DAY_S, count: 100_000 }, removeOnFail: { age: DAY_S },
    });
  }

  async run(task: RunnerTask, hooks: TaskHooks): Promise<RunnerResult> {
    const msg = this.message(task);
    const jobId = jobIdOf(task.key);
    await this.enqueue(jobId, msg);
    let worker: string | undefined;
    let logsSeen = 0;
    let queued = false;
    for (;;) {
      if (hooks.signal.aborted) throw new Error('interrupted');
      const state = await this.queue.getJobState(jobId);
      // Still queued (or waiting for a retry): one read per wake-up, nothing more.
      if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
        if (!queued) hooks.queued?.();
        queued = true;
        await this.wait(jobId);
        continue;
      }
      const job = state === 'unknown' ? undefined : await Job.fromId<TaskMessage, TaskReply>(this.queue, jobId);
      if (!job) {
        // Gone (a Redis that lost it, another coordinator replacing a failed one): enqueue it again.
        await this.enqueue(jobId, msg);
        continue;
      }
      const p = job.progress as Partial<TaskProgress> | number;
      if (typeof p === 'object' && p && typeof p.worker === 'string') {
        if (p.worker !== worker && state !== 'completed') {
          worker = p.worker;
          queued = false;
          hooks.where?.(worker);
          hooks.log(`on worker ${worker}`);
        }
        if (typeof p.done === 'number') hooks.progress(p.done, p.total, p.unit);
      }
      const { logs } = await this.queue.getJobLogs(jobId, logsSeen, -1, true);
      for (const line of logs) hooks.log(line);
      logsSeen += logs.length;
      if (state === 'completed') return this.accept(task, job.returnvalue, hooks);
      if (state === 'failed') throw new WorkerTaskFailed(job.failedReason || 'failed', worker, job.attemptsMade);
      await this.wait(jobId);
    }
  }

  /** Whether a completion's outputs can be found: in this cache, or on the remote. */
  private async reachable(reply: TaskReply | undefined): Promise<boolean> {
    const refs = Object.values(reply?.action?.outputs ?? {});
    if (!reply?.action || (this.opts.remote ? reply.remote === undefined : reply.remote !== undefined)) return false;
    if (!this.opts.remote) return refs.every((r) => this.opts.store.hasIntact(r));
    const there = await remoteHolds(this.opts.remote.remote, refs);
    return refs.every((r) => there.has(r.hash));
  }

  /** Trusts a completion once its outputs are here; records its action in this cache. */
  private async accept(task: RunnerTask, reply: TaskReply, hooks: TaskHooks): Promise<RunnerResult> {
    const { store, remote } = this.opts;
    const action = reply?.action;
    if (!action || typeof action.key !== 'string' || typeof action.outputs !== 'object') throw new CompletionRefusedError(reply?.worker ?? '?', 'without a result');
    for (const [port, ref] of Object.entries(action.outputs)) {
      if (remote) {
        try {
          // The tiered store downloads it, checking hash and size, unless it is here already.
          if (!store.hasIntact(ref)) await store.read(ref);
        } catch (e) {
          throw new CompletionRefusedError(reply.worker, `output ${port} is not on remote ${remote.name} as named: ${errorMessage(e)}`);
        }
      } else if (!store.hasIntact(ref)) {
        throw new CompletionRefusedError(reply.worker, `output ${port} (${ref.hash.slice(0, 12)}, ${ref.size} bytes) is not in ${store.root}: does it share this cache? (else use a remote)`);
      }
    }
    if (!store.getAction(action.key)) await store.putAction(action);
    if (action.key !== task.key) {
      hooks.log(`keyed ${action.key.slice(0, 12)} on ${reply.worker} (here: ${task.key.slice(0, 12)}); its key environment there: ${JSON.stringify(reply.environment ?? {})}`);
    }
    hooks.where?.(reply.worker);
    return { outputs: action.outputs, notes: action.notes, action, ...(reply.environment ? { environment: reply.environment } : {}) };
  }

  /** How many workers are connected to the queue now. */
  workers(): Promise<number> {
    return this.queue.getWorkersCount();
  }

  async close(): Promise<void> {
    await this.events.close();
    await this.queue.close();
  }
}

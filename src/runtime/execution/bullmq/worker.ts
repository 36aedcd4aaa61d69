// `sieve worker`: takes task descriptions off the queue and runs them with this machine's own node
// types (built-ins and the plugins it was started with), in its own cache, reading inputs through
// and pushing outputs to a remote when it has one. Refusals (a node type it lacks, another version,
// a `command` node without --allow-command, a malformed message) fail the job at once, without
// retries; any other error fails the attempt and BullMQ retries it with backoff.
import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { errorMessage } from '../../errors.js';
import { FileHasher } from '../../keys/hash.js';
import { keyInstance } from '../../keys/keys.js';
import type { Remote } from '../../remotes/remote.js';
import { type ActionRecord, type ObjectRef, type Store } from '../../store/store.js';
import { TieredStore } from '../../store/tiered.js';
import type { NodeRegistry } from '../../types/registry.js';
import { nowMs } from '../clock.js';
import { LocalRunner } from '../runner.js';
import type { TaskHooks } from '../task.js';
import { QUEUE_NAME, redisOptions, type RedisLocation } from './connection.js';
import { checkTaskMessage, type TaskMessage, type TaskProgress, type TaskReply } from './message.js';

export interface TaskWorkerOptions {
  redis: RedisLocation;
  /** Tasks run at once. */
  concurrency: number;
  /** Its cache: a TieredStore over `remote` when it has one. */
  store: Store;
  /** The remote the store reads inputs through from and writes outputs back to (workers that share no filesystem). */
  remote?: { name: string; remote: Remote };
  /** Node types this worker runs: the built-ins and the plugins it was started with. */
  registry: NodeRegistry;
  allowCommand: boolean;
  /** How long a task's lock lasts without renewal (ms): a dead worker's task moves on after it. */
  lockMs?: number;
  /** How this worker is named in progress views and failures (default host:pid). */
  name?: string;
  log(line: string): void;
}

export const DEFAULT_LOCK_MS = 30_000;

export class TaskWorker {
  readonly name: string;
  private readonly runner: LocalRunner;
  private readonly hasher: FileHasher;
  private readonly worker: Worker<TaskMessage, TaskReply>;
  private readonly abort = new AbortController();
  private hasherLoaded: Promise<void> | undefined;

  constructor(private readonly opts: TaskWorkerOptions) {
    this.name = opts.name ?? `${hostname()}:${process.pid}`;
    this.runner = new LocalRunner(opts.concurrency);
    this.hasher = new FileHasher(opts.store.fileHashStatePath);
    const lockMs = opts.lockMs ?? DEFAULT_LOCK_MS;
    this.worker = new Worker<TaskMessage, TaskReply>(QUEUE_NAME, (job) => this.process(job), {
      connection: redisOptions(opts.redis), concurrency: opts.concurrency, autorun: false, name: this.name,
      lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 3,
    });
    this.worker.on('error', (e) => opts.log(`queue: ${errorMessage(e)}`));
    this.worker.on('failed', (job, e) => opts.log(`${job?.data?.nodeId ?? job?.id}: failed: ${errorMessage(e)}`));
  }

  /** Processes tasks until `close`. */
  async run(): Promise<void> {
    await this.opts.store.init();
    this.opts.log(`worker ${this.name}: ${this.opts.concurrency} at once, cache ${this.opts.store.root}${this.opts.remote ? `, remote ${this.opts.remote.name}` : ''}`);
    await this.worker.run();
  }

  /** Resolves once the worker takes jobs (for tests). */
  waitUntilReady(): Promise<unknown> {
    return this.worker.waitUntilReady();
  }

  /** Stops taking tasks; `force` abandons the running ones (another worker gets them after the lock time). */
  async close(force = false): Promise<void> {
    if (force) this.abort.abort();
    await this.worker.close(force);
    await this.runner.close();
    await this.hasher.save().catch(() => undefined);
  }

  private refuse(message: string): never {
    throw new UnrecoverableError(`worker ${this.name} refuses the task: ${message}`);
  }

  private async process(job: Job<TaskMessage, TaskReply>): Promise<TaskReply> {
    const problem = checkTaskMessage(job.data);
    if (problem) this.refuse(`malformed task description (${problem})`);
    const msg = job.data;
    const { store, registry } = this.opts;
    await registry.load([msg.node.type]).catch(() => undefined);
    const registered = registry.get(msg.node.type);
    if (!registered) this.refuse(`node type "${msg.node.type}" is not a built-in and no plugin it was started with provides it (start it with --plugin)`);
    if (msg.node.type === 'command' && !this.opts.allowCommand) this.refuse('`command` nodes run on a worker only when it was started with --allow-command');
    if (registered.node.version !== msg.node.version) {
      this.refuse(`node type ${msg.node.type} is version ${registered.node.version} here, the task was planned with ${msg.node.version} (by Sieve ${msg.sieveVersion})`);
    }
    if (msg.remote && !this.opts.remote) this.refuse(`its outputs go to remote "${msg.remote}" and this worker has no --remote`);
    const remote = this.opts.remote?.remote;
    let lastProgress = 0;
    const progress = (p: Omit<TaskProgress, 'worker'>): void => {
      void job.updateProgress({ worker: this.name, ...p } satisfies TaskProgress).catch(() => undefined);
    };
    progress({});

    // With a remote, the store is tiered: the task reads its inputs through and writes its outputs back.
    for (const [port, ref] of Object.entries(msg.inputs)) {
      if (!remote && !store.hasIntact(ref)) {
        throw new Error(`input ${port}: object ${ref.hash.slice(0, 12)} is not in ${store.root} (workers without the coordinator's cache need --remote)`);
      }
    }
    this.hasherLoaded ??= this.hasher.load();
    await this.hasherLoaded;
    const site = { node: registered.node, typeName: msg.node.type, nodeId: msg.nodeId, params: msg.params, seed: msg.seed, baseDir: msg.baseDir, cacheDir: store.root };
    const keyed = await keyInstance(site, Object.fromEntries(Object.entries(msg.inputs).map(([k, r]) => [k, r.hash])), this.hasher);
    void this.hasher.save().catch(() => undefined);
    const { key, deps, environment } = keyed;
    const env = environment ? { environment } : {};
    const finish = async (status: TaskReply['status'], action: ActionRecord): Promise<TaskReply> => {
      // A hit found in the local tier may predate the remote: the coordinator looks there.
      if (status === 'cached' && store instanceof TieredStore) await store.writeBack(Object.values(action.outputs));
      return { status, worker: this.name, action, ...env, ...(this.opts.remote ? { remote: this.opts.remote.name } : {}) };
    };
    const found = await store.usableHit(key, msg.pipeline);
    if (found) {
      this.opts.log(`${msg.nodeId}: cached (key ${key.slice(0, 12)})`);
      return finish('cached', found);
    }
    this.opts.log(`${msg.nodeId}: running (key ${key.slice(0, 12)})`);
    const lines: string[] = [];
    const hooks: TaskHooks = {
      progress: (done, total, unit) => {
        if (nowMs() - lastProgress < 500 && done !== total) return;
        lastProgress = nowMs();
        progress({ done, ...(total !== undefined ? { total } : {}), ...(unit ? { unit } : {}) });
      },
      log: (m) => {
        lines.push(m);
        void job.log(m).catch(() => undefined);
      },
      signal: this.abort.signal,
    };
    const t0 = nowMs();
    const request = {
      nodeId: msg.nodeId, typeName: msg.node.type, params: msg.params, seed: msg.seed, inputs: msg.inputs as Record<string, ObjectRef>,
      outputs: msg.outputs, store: store.describe(), baseDir: msg.baseDir, ...env,
    };
    try {
      const result = await this.runner.run({ instanceId: msg.instanceId, node: registered, request, key }, hooks);
      const action: ActionRecord = { key, type: msg.node.type, version: registered.node.version, outputs: result.outputs, deps, notes: result.notes, durationMs: Math.round(nowMs() - t0) };
      await store.putAction(action);
      this.opts.log(`${msg.nodeId}: done in ${action.durationMs} ms`);
      return await finish('ran', action);
    } finally {
      if (lines.length) await store.writeLog(key, `${lines.join('\n')}\n`).catch(() => undefined);
    }
  }
}

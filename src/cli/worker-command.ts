// `sieve worker --queue redis://…`: one worker of the pool. It runs until SIGINT or SIGTERM, then
// finishes its running tasks and stops (a second signal abandons them: after the lock time another
// worker takes them over, as it does for a worker killed outright).
import { builtinRegistry } from '../nodes/index.js';
import { parseRedisUrl, queueUrl, redactRedisUrl } from '../runtime/execution/bullmq/connection.js';
import { DEFAULT_LOCK_MS, TaskWorker } from '../runtime/execution/bullmq/worker.js';
import { TieredStore } from '../runtime/store/tiered.js';
import { countFlag, envMs, namedRemote } from './bullmq-run.js';
import { commandStore } from './defaults.js';

export interface WorkerFlags {
  queue?: string;
  concurrency?: string;
  cache?: string;
  remote?: string;
  allowCommand?: boolean;
  plugin?: string[];
  lockMs?: string;
  name?: string;
}

export async function workerCommand(flags: WorkerFlags): Promise<number> {
  const url = queueUrl(flags.queue, 'sieve worker');
  const redis = parseRedisUrl(url);
  const concurrency = countFlag(flags.concurrency, 'concurrency', 1, 1);
  const lockMs = countFlag(flags.lockMs, 'lock-ms', envMs('SIEVE_WORKER_LOCK_MS', DEFAULT_LOCK_MS), 100);
  const registry = builtinRegistry();
  for (const plugin of flags.plugin ?? []) await registry.loadPlugin(plugin, process.cwd());
  const remote = await namedRemote(flags.remote);
  const local = commandStore({ cache: flags.cache });
  // With a remote: a tiered store, reading inputs through and writing outputs back.
  const store = remote ? new TieredStore(local.root, remote.remote, remote.ref) : local;
  const log = (line: string): void => {
    process.stdout.write(`[${new Date().toISOString()}] ${line}\n`);
  };
  const worker = new TaskWorker({
    redis, concurrency, store, remote, registry, allowCommand: Boolean(flags.allowCommand), lockMs, log,
    ...(flags.name ? { name: flags.name } : {}),
  });
  let stopping = false;
  const stop = (): void => {
    log(stopping ? 'abandoning the running tasks' : 'stopping: finishing the running tasks (again to abandon them)');
    void worker.close(stopping);
    stopping = true;
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  log(`queue ${redactRedisUrl(url)}`);
  try {
    await worker.run();
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await store.close();
  }
  return 0;
}

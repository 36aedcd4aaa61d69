// `sieve run --executor bullmq --queue redis://…`: the coordinator. It plans and runs the executor
// as for a local run (cache hits, keys, the progress view, the lockfile), with a runner that hands
// each ready instance to the pool of `sieve worker`s through the queue.
import { resolve } from 'node:path';
import pc from 'picocolors';
import { parseRedisUrl, queueUrl, redactRedisUrl } from '../runtime/execution/bullmq/connection.js';
import { BullmqRunner } from '../runtime/execution/bullmq/runner.js';
import type { ExecutorSpec } from '../runtime/execution/executor-config.js';
import { UsageError } from '../runtime/errors.js';
import type { Plan } from '../runtime/planning/plan-types.js';
import { resolveRemote } from '../runtime/remotes/config.js';
import type { Remote } from '../runtime/remotes/remote.js';
import type { Store } from '../runtime/store/store.js';
import { TieredStore } from '../runtime/store/tiered.js';
import { SIEVE_VERSION } from '../version.js';
import { runWith, type RunFlags } from './run-execute.js';

export interface QueueFlags {
  queue?: string;
  remote?: string;
  retries?: string;
}

/** A whole number from a flag, or the fallback. */
export function countFlag(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number of at least ${min}, got ${value}`);
  return n;
}

/** $NAME as a number of milliseconds (tests shorten the waits), or the fallback. */
export function envMs(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return process.env[name] && Number.isFinite(v) && v >= 10 ? v : fallback;
}

/**
 * The remote --remote names (a name of the user config, a directory or s3://): its name for
 * messages and tasks, and how this process's threads reopen it (`ref`: a relative directory made absolute).
 */
export async function namedRemote(flag: string | undefined): Promise<{ name: string; ref: string; remote: Remote } | undefined> {
  if (!flag) return undefined;
  const r = await resolveRemote({ flag });
  await r.remote.connect();
  return { name: r.name ?? r.remote.describe(), ref: r.name ?? (flag.startsWith('s3://') ? flag : resolve(flag)), remote: r.remote };
}

export async function bullmqRun(p: Plan, local: Store, flags: RunFlags & QueueFlags, spec: Extract<ExecutorSpec, { type: 'bullmq' }>, jobs: number): Promise<number> {
  const url = queueUrl(flags.queue ?? spec.queue, 'sieve run --executor bullmq');
  const redis = parseRedisUrl(url);
  const remote = await namedRemote(flags.remote ?? spec.remote);
  // Workers that share only the remote: this cache in front of it (hits count what it holds).
  const store = remote ? new TieredStore(local.root, remote.remote, remote.ref) : local;
  const retries = countFlag(flags.retries, 'retries', spec.retries ?? 2);
  if (!flags.json) {
    process.stdout.write(pc.dim(`queue ${redactRedisUrl(url)}${remote ? `, outputs through remote ${remote.name}` : `, workers share the cache ${store.root}`}\n`));
  }
  const runner = new BullmqRunner({
    redis, store, pipeline: p.file.path, sieveVersion: SIEVE_VERSION, remote, retries,
    backoffMs: envMs('SIEVE_BULLMQ_BACKOFF_MS', 1000), pollMs: envMs('SIEVE_BULLMQ_POLL_MS', 1000),
  });
  try {
    if ((await runner.workers()) === 0) {
      process.stderr.write(`${pc.yellow('!')} no worker is connected to queue ${redactRedisUrl(url)} yet: tasks wait until one is (\`sieve worker --queue …\`)\n`);
    }
    return await runWith(p, store, flags, { jobs, runner });
  } finally {
    await store.close();
  }
}

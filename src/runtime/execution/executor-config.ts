// Which executor runs a pipeline: `--executor`, the pipeline's `executor:` header, the user
// config's `executor:`, else local. Settings of a Slurm executor come from the first of the
// pipeline's and the user config's sections that names Slurm.
import { UsageError } from '../errors.js';
import type { SlurmSettings } from './slurm/script.js';

/** A pool of `sieve worker`s on a Redis queue (see bullmq/). */
export interface BullmqSettings {
  /** redis://[user:password@]host:port/db (default: $SIEVE_REDIS_URL). */
  queue?: string;
  /** The remote the workers share instead of the cache (a name of the user config, a path or s3://). */
  remote?: string;
  /** Attempts after a failed one. */
  retries?: number;
}

export type ExecutorSpec = { type: 'local' } | ({ type: 'slurm' } & SlurmSettings) | ({ type: 'bullmq' } & BullmqSettings);

export const EXECUTOR_TYPES = ['local', 'slurm', 'bullmq'] as const;

/** JSON Schema of the `executor:` section (the pipeline's header, the user config). */
export const executorSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  description: 'Where `sieve run` executes the nodes: here (local), or as Slurm jobs over a shared cache (slurm).',
  properties: {
    type: { enum: [...EXECUTOR_TYPES] },
    partition: { type: 'string', description: 'slurm: --partition of every job.' },
    account: { type: 'string', description: 'slurm: --account of every job.' },
    qos: { type: 'string', description: 'slurm: --qos of every job.' },
    time: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string' }], description: "slurm: default wall-time limit of a job (a node's `resources.time` wins)." },
    extra_args: { type: 'array', items: { type: 'string' }, description: 'slurm: more sbatch options, e.g. ["--constraint=a100"].' },
    queue: { type: 'string', description: 'bullmq: the Redis URL of the task queue (default: $SIEVE_REDIS_URL).' },
    remote: { type: 'string', description: 'bullmq: the remote the workers share instead of the cache.' },
    retries: { type: 'integer', minimum: 0, description: 'bullmq: attempts after a failed one (default 2).' },
  },
} as const;

/** Checks an `executor:` section; `where` names its file for the message. */
export function parseExecutorSpec(raw: unknown, where: string): ExecutorSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`${where}: \`executor\` must be a mapping such as {type: slurm, partition: gpu}`);
  const r = raw as Record<string, unknown>;
  if (r.type === 'local') return { type: 'local' };
  if (r.type === 'bullmq') return parseBullmqSpec(r, where);
  if (r.type !== 'slurm') throw new UsageError(`${where}: executor.type must be one of ${EXECUTOR_TYPES.join(', ')}, got ${JSON.stringify(r.type)}`);
  const out: ExecutorSpec = { type: 'slurm' };
  for (const k of ['partition', 'account', 'qos'] as const) {
    if (r[k] === undefined) continue;
    if (typeof r[k] !== 'string') throw new UsageError(`${where}: executor.${k} must be a string`);
    out[k] = r[k] as string;
  }
  if (r.time !== undefined) {
    if (typeof r.time !== 'string' && typeof r.time !== 'number') throw new UsageError(`${where}: executor.time must be minutes or HH:MM:SS`);
    out.time = r.time;
  }
  if (r.extra_args !== undefined) {
    if (!Array.isArray(r.extra_args) || !r.extra_args.every((a) => typeof a === 'string')) throw new UsageError(`${where}: executor.extra_args must be a list of strings`);
    out.extra_args = r.extra_args as string[];
  }
  const unknown = Object.keys(r).filter((k) => !['type', 'partition', 'account', 'qos', 'time', 'extra_args'].includes(k));
  if (unknown.length) throw new UsageError(`${where}: unknown executor setting(s) ${unknown.join(', ')}`);
  return out;
}

function parseBullmqSpec(r: Record<string, unknown>, where: string): ExecutorSpec {
  const out: ExecutorSpec = { type: 'bullmq' };
  for (const k of ['queue', 'remote'] as const) {
    if (r[k] === undefined) continue;
    if (typeof r[k] !== 'string') throw new UsageError(`${where}: executor.${k} must be a string`);
    out[k] = r[k] as string;
  }
  if (r.retries !== undefined) {
    if (!Number.isInteger(r.retries) || (r.retries as number) < 0) throw new UsageError(`${where}: executor.retries must be a whole number`);
    out.retries = r.retries as number;
  }
  const unknown = Object.keys(r).filter((k) => !['type', 'queue', 'remote', 'retries'].includes(k));
  if (unknown.length) throw new UsageError(`${where}: unknown bullmq executor setting(s) ${unknown.join(', ')}`);
  return out;
}

export interface ExecutorRequest {
  /** --executor */
  flag?: string;
  pipeline?: ExecutorSpec;
  user?: ExecutorSpec;
}

export function resolveExecutor(req: ExecutorRequest): ExecutorSpec {
  if (req.flag !== undefined && !(EXECUTOR_TYPES as readonly string[]).includes(req.flag)) {
    throw new UsageError(`--executor must be one of ${EXECUTOR_TYPES.join(', ')}, got "${req.flag}"`);
  }
  const type = req.flag ?? req.pipeline?.type ?? req.user?.type ?? 'local';
  if (type === 'local') return { type: 'local' };
  if (type === 'bullmq') return [req.pipeline, req.user].find((s) => s?.type === 'bullmq') ?? { type: 'bullmq' };
  return [req.pipeline, req.user].find((s) => s?.type === 'slurm') ?? { type: 'slurm' };
}

// `sieve run` / `sieve sweep`: plan, pick the executor (the flag, the pipeline's header, the user
// config), and hand the plan to it: this machine (run-execute.ts) or a Slurm submission (slurm-run.ts).
import { availableParallelism } from 'node:os';
import { UsageError } from '../runtime/errors.js';
import { parseExecutorSpec, resolveExecutor } from '../runtime/execution/executor-config.js';
import { suggest } from '../runtime/planning/suggest.js';
import { readUserConfig } from '../runtime/user-config.js';
import { planPipeline } from './context.js';
import { commandStore } from './defaults.js';
import { runWith, type RunFlags } from './run-execute.js';

export type { RunFlags };

/** Runs the pipeline; `requireGrid` is `sweep`'s check that there is something to sweep. Returns the exit code. */
export async function runCommand(pipeline: string | undefined, flags: RunFlags, requireGrid = false): Promise<number> {
  const p = await planPipeline(pipeline, flags, true);
  if (requireGrid && p.points.length < 2) throw new UsageError('sweep needs a grid: a `sweep:` section or --grid/--zip');
  const store = commandStore(flags, p.file);
  const jobs = flags.jobs ? Number(flags.jobs) : p.file.jobs ?? availableParallelism();
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a positive integer, got ${flags.jobs}`);
  const unknown = (flags.only ?? []).filter((id) => !p.file.nodes.some((n) => n.id === id));
  if (unknown.length) {
    const ids = p.file.nodes.map((n) => n.id);
    throw new UsageError(`--only names unknown node(s): ${unknown.map((id) => `${id}${suggest(id, ids)}`).join(', ')}`);
  }
  const executor = resolveExecutor({
    flag: flags.executor,
    pipeline: p.file.executor ? parseExecutorSpec(p.file.executor, p.file.path) : undefined,
    user: (await readUserConfig()).executor,
  });
  if (executor.type === 'slurm') return (await import('./slurm-run.js')).slurmRun(p, store, flags, executor);
  if (executor.type === 'bullmq') return (await import('./bullmq-run.js')).bullmqRun(p, store, flags, executor, jobs);
  if (flags.queue || flags.remote || flags.retries) throw new UsageError('--queue, --remote and --retries are options of --executor bullmq');
  if (flags.wait || flags.collect) throw new UsageError('--wait is an option of --executor slurm');
  return runWith(p, store, flags, { jobs });
}

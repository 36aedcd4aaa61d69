// `sieve status`, `dag`, `show` and `results`: reading a pipeline, its lockfile and the cache
// without running anything.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pc from 'picocolors';
import { errorMessage, UsageError } from '../runtime/errors.js';
import { summarize } from '../runtime/inspect.js';
import { lockfilePath, readLockfile } from '../runtime/lockfile.js';
import { pipelineStatus } from '../runtime/status.js';
import { Store } from '../runtime/store.js';
import { formatBytes, formatMs } from '../reporters/format.js';
import { planPipeline, type PlanFlags } from './context.js';
import { dagMermaid, dagText } from './dag-view.js';
import { resolveCacheDir, type CacheFlags } from './defaults.js';
import { printResults } from './run-command.js';

export async function statusCommand(pipeline: string | undefined, flags: PlanFlags & CacheFlags & { json?: boolean }): Promise<void> {
  const p = await planPipeline(pipeline, flags);
  const lock = await readLockfile(lockfilePath(p.file.path));
  const store = new Store(resolveCacheDir(flags, p.file));
  const lines = await pipelineStatus(p, store, lock);
  // Jobs of Slurm submissions, when the cache has any (the module is loaded only then).
  const jobs = existsSync(join(store.root, 'slurm'))
    ? await (async () => {
        const [{ jobStatuses }, { Slurm, processRunner }] = await Promise.all([import('../runtime/slurm/status.js'), import('../runtime/slurm/commands.js')]);
        return jobStatuses(store, p.file.path, new Set(lines.map((l) => l.instanceId)), new Slurm(processRunner()));
      })()
    : new Map<string, never>();
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(lines.map((l) => ({ ...l, ...(jobs.has(l.instanceId) ? { job: jobs.get(l.instanceId) } : {}) })))}\n`);
    return;
  }
  const stale = lines.filter((l) => l.state === 'stale');
  const tailShown = new Set<string>();
  for (const l of lines) {
    const where = p.points.length > 1 ? pc.dim(` [${l.point}]`) : '';
    const mark = l.state === 'up-to-date' ? pc.green('up to date') : pc.yellow('stale');
    process.stdout.write(`${l.nodeId}${where}: ${mark}\n`);
    for (const r of l.reasons) process.stdout.write(`    ${r}\n`);
    const job = jobs.get(l.instanceId);
    if (job) {
      const phase = job.phase === 'done' ? pc.green('done') : job.phase === 'failed' || job.phase === 'cancelled' ? pc.red(job.phase) : pc.cyan(job.phase);
      process.stdout.write(`    slurm job ${job.jobId}: ${phase}${job.error ? `: ${job.error}` : ''}, log ${job.log}\n`);
      if (job.tail && !tailShown.has(l.instanceId)) process.stdout.write(`${job.tail.split('\n').map((t) => pc.dim(`      | ${t}`)).join('\n')}\n`);
      tailShown.add(l.instanceId);
    }
  }
  process.stdout.write(stale.length === 0 ? pc.green('everything is up to date\n') : `${stale.length} of ${lines.length} node(s) would run\n`);
}

export async function dagCommand(pipeline: string | undefined, flags: PlanFlags & { mermaid?: boolean }): Promise<void> {
  const p = await planPipeline(pipeline, flags);
  process.stdout.write(`${flags.mermaid ? dagMermaid(p) : dagText(p)}\n`);
}

export async function showCommand(
  node: string,
  pipeline: string | undefined,
  flags: PlanFlags & CacheFlags & { point?: string; json?: boolean },
): Promise<void> {
  const p = await planPipeline(pipeline, flags);
  const lock = await readLockfile(lockfilePath(p.file.path));
  if (!lock) throw new UsageError(`no lockfile for ${p.file.path}: run the pipeline first`);
  const pointId = flags.point ?? Object.keys(lock.points)[0];
  const point = lock.points[pointId];
  if (!point) throw new UsageError(`no grid point "${pointId}" in the lockfile (points: ${Object.keys(lock.points).join(', ')})`);
  const rec = point.nodes[node];
  if (!rec) throw new UsageError(`node "${node}" has no record at point ${pointId} (nodes: ${Object.keys(point.nodes).join(', ')})`);
  const store = new Store(resolveCacheDir(flags, p.file));
  const summaries: Record<string, unknown> = {};
  for (const [port, ref] of Object.entries(rec.outputs)) {
    const bytes = await store.read(ref).catch((e: unknown) => errorMessage(e));
    summaries[port] = typeof bytes === 'string' ? { error: bytes } : summarize(ref, bytes);
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ node, point: pointId, key: rec.key, outputs: summaries }, null, 1)}\n`);
    return;
  }
  process.stdout.write(`${pc.bold(node)} (${rec.type} v${rec.version}) key ${rec.key.slice(0, 12)}, ran in ${formatMs(rec.ms)}\n`);
  for (const [port, s] of Object.entries(summaries) as [string, ReturnType<typeof summarize> & { error?: string }][]) {
    if (s.error) {
      process.stdout.write(`  ${port}: ${pc.red(s.error)}\n`);
      continue;
    }
    const head = s.kind === 'tensor' ? `${s.dtype} [${s.shape!.join(', ')}]` : s.kind;
    process.stdout.write(`  ${pc.bold(port)}: ${head}, ${formatBytes(s.size)}, ${s.hash.slice(0, 12)}\n`);
    if (s.stats) {
      const st = s.stats;
      process.stdout.write(`    min ${st.min.toPrecision(4)}  max ${st.max.toPrecision(4)}  mean ${st.mean.toPrecision(4)}  std ${st.std.toPrecision(4)}${st.nonFinite ? pc.red(`  non-finite ${st.nonFinite}`) : ''}\n`);
    }
    if (s.counts) process.stdout.write(`    counts ${Object.entries(s.counts).map(([k, v]) => `${k}:${v}`).join(' ')}\n`);
    if (s.preview) process.stdout.write(`${s.preview.split('\n').map((l) => `    ${l}`).join('\n')}\n`);
  }
}

export async function resultsCommand(pipeline: string | undefined, flags: PlanFlags & CacheFlags & { out?: string }): Promise<void> {
  const p = await planPipeline(pipeline, flags);
  await printResults(p, new Store(resolveCacheDir(flags, p.file)), flags.out);
}

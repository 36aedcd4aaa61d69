// `sieve status`, `dag`, `show` and `results`: reading a pipeline, its lockfile and the cache
// without running anything.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pc from 'picocolors';
import { extname, resolve } from 'node:path';
import { encodeNpy } from '../data/npy.js';
import { formatBytes, formatMs } from '../reporters/format.js';
import { errorMessage, UsageError } from '../runtime/errors.js';
import { lockfilePath, readLockfile } from '../runtime/results/lockfile.js';
import { runRecordId, type RunHistoryEntry } from '../runtime/results/run-record.js';
import { pipelineStatus } from '../runtime/results/status.js';
import { decodeArtifact, TENSOR_NAME } from '../runtime/store/artifact.js';
import { writeFileAtomic } from '../runtime/store/atomic-file.js';
import { summarize } from '../runtime/store/inspect.js';
import { encodeSafetensors } from '../runtime/store/safetensors.js';
import type { ObjectRef } from '../runtime/store/store.js';
import type { Tensor } from '../runtime/tensor.js';
import type { PortValue } from '../runtime/types/node-type.js';
import { planForLockfile, planPipeline, type PlanFlags } from './context.js';
import { dagMermaid, dagText } from './dag-view.js';
import type { Store } from '../runtime/store/store.js';
import { commandStore, type CacheFlags } from './defaults.js';
import { printResults, terminalWidth, type ResultsFlags } from './results-view.js';

export async function statusCommand(pipeline: string | undefined, flags: PlanFlags & CacheFlags & { json?: boolean }): Promise<void> {
  const p = await planPipeline(pipeline, flags);
  const lock = await readLockfile(lockfilePath(p.file.path));
  const store = commandStore(flags, p.file);
  const lines = await pipelineStatus(p, store, lock);
  // Jobs of Slurm submissions, when the cache has any (the module is loaded only then).
  const jobs = existsSync(join(store.root, 'slurm'))
    ? await (async () => {
        const [{ jobStatuses }, { Slurm, processRunner }, { instanceIdentities }] = await Promise.all([
          import('../runtime/execution/slurm/status.js'), import('../runtime/execution/slurm/commands.js'), import('../runtime/execution/slurm/submission.js'),
        ]);
        return jobStatuses(store, p.file.path, instanceIdentities(p), new Slurm(processRunner()));
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
    const from = l.origin && l.origin !== 'computed here' ? pc.cyan(` (${l.origin})`) : '';
    process.stdout.write(`${l.nodeId}${where}: ${mark}${from}\n`);
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
  const origins = new Map<string, number>();
  for (const l of lines) if (l.origin) origins.set(l.origin, (origins.get(l.origin) ?? 0) + 1);
  if ([...origins.keys()].some((o) => o !== 'computed here')) {
    process.stdout.write(`results: ${[...origins].map(([o, n]) => `${n} ${o}`).join(', ')} (\`sieve audit\` recomputes those from elsewhere)\n`);
  }
}

export async function dagCommand(pipeline: string | undefined, flags: PlanFlags & { mermaid?: boolean }): Promise<void> {
  const p = await planPipeline(pipeline, flags);
  process.stdout.write(`${flags.mermaid ? dagMermaid(p) : dagText(p)}\n`);
}

export interface ShowFlags extends PlanFlags, CacheFlags {
  point?: string;
  json?: boolean;
  out?: string;
  port?: string;
}

export async function showCommand(node: string, pipeline: string | undefined, flags: ShowFlags): Promise<void> {
  const p = await planPipeline(pipeline, flags);
  const lock = await readLockfile(lockfilePath(p.file.path));
  if (!lock) throw new UsageError(`no lockfile for ${p.file.path}: run the pipeline first`);
  const pointId = flags.point ?? Object.keys(lock.points).find((id) => lock.points[id].nodes[node]) ?? Object.keys(lock.points)[0];
  const point = lock.points[pointId];
  if (!point) throw new UsageError(`no grid point "${pointId}" in the lockfile (points: ${Object.keys(lock.points).join(', ')})`);
  const rec = point.nodes[node];
  if (!rec) throw new UsageError(`node "${node}" has no record at point ${pointId} (nodes: ${Object.keys(point.nodes).join(', ')})`);
  const store = commandStore(flags, p.file);
  if (flags.out) {
    await writeOutput(store, rec.outputs, flags.out, flags.port, `${node} at point ${pointId}`);
    return;
  }
  const summaries: Record<string, unknown> = {};
  for (const [port, ref] of Object.entries(rec.outputs)) {
    const bytes = await store.read(ref).catch((e: unknown) => errorMessage(e));
    summaries[port] = typeof bytes === 'string' ? { error: bytes } : { ...summarize(ref, bytes), path: store.objectPath(ref.hash) };
  }
  // An output that cannot be read (corrupt, truncated, missing) is shown, and the command fails.
  if (Object.values(summaries).some((x) => (x as { error?: string }).error !== undefined)) process.exitCode = 1;
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ node, point: pointId, key: rec.key, outputs: summaries }, null, 1)}\n`);
    return;
  }
  process.stdout.write(`${pc.bold(node)} (${rec.type} v${rec.version}) at point ${pc.bold(pointId)}, key ${rec.key.slice(0, 12)}, ran in ${formatMs(rec.ms)}\n`);
  for (const [port, s] of Object.entries(summaries) as [string, ReturnType<typeof summarize> & { error?: string; path: string }][]) {
    if (s.error) {
      process.stdout.write(`  ${port}: ${pc.red(s.error)}\n`);
      continue;
    }
    const head = s.kind === 'tensor' ? `${s.dtype} [${s.shape!.join(', ')}]` : s.kind;
    process.stdout.write(`  ${pc.bold(port)}: ${head}, ${formatBytes(s.size)}, ${s.hash.slice(0, 12)}\n`);
    process.stdout.write(pc.dim(`    ${s.path}${s.kind === 'tensor' ? ` (safetensors, tensor "${TENSOR_NAME}")` : ''}\n`));
    if (s.stats) {
      const st = s.stats;
      process.stdout.write(`    min ${st.min.toPrecision(4)}  max ${st.max.toPrecision(4)}  mean ${st.mean.toPrecision(4)}  std ${st.std.toPrecision(4)}${st.nonFinite ? pc.red(`  non-finite ${st.nonFinite}`) : ''}\n`);
    }
    if (s.counts) process.stdout.write(`    counts ${Object.entries(s.counts).map(([k, v]) => `${k}:${v}`).join(' ')}\n`);
    if (s.preview) process.stdout.write(`${s.preview.split('\n').map((l) => `    ${l}`).join('\n')}\n`);
  }
}

/**
 * `show --out FILE`: a tensor output as `.npy` (one port: `--port`, or the node's only tensor
 * output), the tensor outputs as one `.safetensors` (tensors named by port), or a JSON output as `.json`.
 */
async function writeOutput(store: Store, outputs: Record<string, ObjectRef>, file: string, port: string | undefined, what: string): Promise<void> {
  const ext = extname(file).toLowerCase();
  if (!['.npy', '.safetensors', '.json'].includes(ext)) throw new UsageError(`--out ${file}: write .npy, .safetensors or .json`);
  if (port !== undefined && !outputs[port]) throw new UsageError(`--port ${port}: ${what} has no output "${port}" (outputs: ${Object.keys(outputs).join(', ')})`);
  const want = ext === '.json' ? 'json' : 'tensor';
  const candidates = Object.entries(outputs).filter(([name, ref]) => ref.kind === want && (port === undefined || name === port));
  if (port !== undefined && candidates.length === 0) throw new UsageError(`--port ${port} is a ${outputs[port].kind} output: ${ext} holds ${want === 'json' ? 'JSON' : 'tensors'}`);
  if (candidates.length === 0) throw new UsageError(`${what} has no ${want} output to write as ${ext}`);
  if (ext !== '.safetensors' && candidates.length > 1) {
    throw new UsageError(`${what} has ${candidates.length} ${want} outputs (${candidates.map(([n]) => n).join(', ')}): choose one with --port`);
  }
  const values = new Map<string, PortValue>();
  for (const [name, ref] of candidates) values.set(name, decodeArtifact(ref, await store.read(ref)));
  let bytes: Uint8Array;
  if (ext === '.npy') bytes = encodeNpy(values.values().next().value as Tensor);
  else if (ext === '.json') bytes = Buffer.from(`${JSON.stringify(values.values().next().value, null, 1)}\n`);
  else bytes = encodeSafetensors(Object.fromEntries([...values].map(([n, v]) => [n, v as Tensor])));
  await writeFileAtomic(resolve(file), bytes);
  process.stdout.write(`written ${file}: ${[...values.keys()].join(', ')} of ${what}\n`);
}

export async function resultsCommand(pipeline: string | undefined, flags: PlanFlags & CacheFlags & ResultsFlags): Promise<void> {
  const p = await planForLockfile(pipeline, flags);
  await printResults(p, commandStore(flags, p.file), flags);
}

/** `sieve runs`: the pipeline's past runs, from the run history in its cache. */
export async function runsCommand(pipeline: string | undefined, flags: PlanFlags & CacheFlags & { json?: boolean; limit?: string }): Promise<void> {
  const p = await planForLockfile(pipeline, flags);
  const store = commandStore(flags, p.file);
  let history = (await store.readRunHistory(runRecordId(p.file.path))) as unknown as RunHistoryEntry[];
  const limit = flags.limit === undefined ? 20 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 0) throw new UsageError(`--limit must be a non-negative integer, got ${flags.limit}`);
  if (limit > 0) history = history.slice(-limit);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(history)}\n`);
    return;
  }
  if (history.length === 0) {
    process.stdout.write(`no runs of ${p.file.path} recorded in ${store.root}\n`);
    return;
  }
  const rows = history.map((h) => [
    h.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    h.status === 'ok' ? 'ok' : 'failed',
    `${h.points.length}`,
    `${h.counts.ran} ran, ${h.counts.cached} cached${h.counts.failed ? `, ${h.counts.failed} failed` : ''}`,
    formatMs(h.ms),
    `sieve ${h.command.join(' ')}`,
  ]);
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(['time', 'status', 'points', 'nodes', 'took'][i].length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => {
    const head = r.slice(0, 5).map((c, i) => c.padEnd(widths[i])).join('  ');
    const room = Math.max(10, terminalWidth() - head.length - 2);
    const cmd = r[5].length > room ? `${r[5].slice(0, room - 1)}…` : r[5];
    return `${head}  ${cmd}`.trimEnd();
  };
  process.stdout.write(`${[line(['time', 'status', 'points', 'nodes', 'took', 'command']), ...rows.map(line)].join('\n')}\n`);
}

// `sieve logs NODE`: the log of a node's latest execution in this cache (a command node's stdout and
// stderr, other node types' log lines), found under the key the node has now — so the log of a node
// that just failed is there too — or, when that key cannot be computed, the lockfile's.
import { UsageError } from '../runtime/errors.js';
import { suggest } from '../runtime/planning/suggest.js';
import { lockfilePath, readLockfile } from '../runtime/results/lockfile.js';
import { pipelineStatus } from '../runtime/results/status.js';
import { planPipeline, type PlanFlags } from './context.js';
import { commandStore, type CacheFlags } from './defaults.js';

export async function logsCommand(node: string, pipeline: string | undefined, flags: PlanFlags & CacheFlags & { point?: string }): Promise<void> {
  const p = await planPipeline(pipeline, flags);
  if (!p.file.nodes.some((n) => n.id === node)) {
    const ids = p.file.nodes.map((n) => n.id);
    throw new UsageError(`no node "${node}" in ${p.file.path}${suggest(node, ids)} (nodes: ${ids.join(', ')})`);
  }
  const pointId = flags.point ?? p.points[0].id;
  if (!p.points.some((pt) => pt.id === pointId)) {
    const ids = p.points.map((pt) => pt.id);
    throw new UsageError(`no grid point "${pointId}"${suggest(pointId, ids)} (points: ${ids.join(', ')})`);
  }
  const store = commandStore(flags, p.file);
  const lock = await readLockfile(lockfilePath(p.file.path)).catch(() => undefined);
  const line = (await pipelineStatus(p, store, lock)).find((l) => l.point === pointId && l.nodeId === node);
  const keys = [line?.key, lock?.points[pointId]?.nodes[node]?.key].filter((k): k is string => Boolean(k));
  for (const key of keys) {
    const text = await store.readLog(key);
    if (text === undefined) continue;
    if (p.points.length > 1 && !flags.point) process.stderr.write(`point ${pointId} (--point to choose another)\n`);
    process.stdout.write(text);
    return;
  }
  throw new UsageError(
    `no log for ${node}${p.points.length > 1 ? ` at point ${pointId}` : ''} in ${store.root}: it has not run in this cache, or it logged nothing`,
  );
}

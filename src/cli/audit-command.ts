// `sieve audit`: recompute results that arrived from a bundle or a remote and compare their output
// hashes with the records. Sieve's nodes are deterministic, so a mismatch proves a bad record: it
// is removed (replaced by what was computed here) and the command exits 1.
import { availableParallelism } from 'node:os';
import pc from 'picocolors';
import { UsageError } from '../runtime/errors.js';
import type { RunListener } from '../runtime/execution/events.js';
import { execute, type AuditResult } from '../runtime/execution/executor.js';
import { describeOrigin } from '../runtime/store/store.js';
import { planPipeline, type PlanFlags } from './context.js';
import { commandStore, type CacheFlags } from './defaults.js';

export interface AuditFlags extends PlanFlags, CacheFlags {
  node?: string;
  fraction?: string;
  jobs?: string;
}

/** Whether a key falls in the audited fraction: a fixed function of the key, so reruns audit the same ones. */
export function inFraction(key: string, fraction: number): boolean {
  return fraction >= 1 || Number.parseInt(key.slice(0, 8), 16) / 2 ** 32 < fraction;
}

export async function auditCommand(pipeline: string | undefined, flags: AuditFlags): Promise<number> {
  const fraction = flags.fraction === undefined ? 1 : Number(flags.fraction);
  if (!(fraction > 0 && fraction <= 1)) throw new UsageError(`--fraction must be a number in (0, 1], got ${flags.fraction}`);
  const jobs = flags.jobs ? Number(flags.jobs) : availableParallelism();
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a positive integer, got ${flags.jobs}`);
  const p = await planPipeline(pipeline, flags, true);
  if (flags.node !== undefined && !p.file.nodes.some((n) => n.id === flags.node)) {
    throw new UsageError(`--node: no node "${flags.node}" in this pipeline (nodes: ${p.file.nodes.map((n) => n.id).join(', ')})`);
  }
  const store = commandStore(flags, p.file);
  const results: AuditResult[] = [];
  const failed: string[] = [];
  const listener: RunListener = {
    onEvent: (e) => {
      if (e.event === 'node-end' && e.status === 'failed') failed.push(`${e.node.nodeId}: ${e.error ?? 'failed'}`);
    },
  };
  await execute(p, {
    store, jobs, listeners: [listener], targets: flags.node !== undefined ? [flags.node] : undefined,
    audit: {
      select: (nodeId, key) => (flags.node === undefined || nodeId === flags.node) && inFraction(key, fraction),
      onResult: (r) => void results.push(r),
    },
  });
  let bad = 0;
  for (const r of results) {
    const label = `${r.nodeId} ${pc.dim(r.key.slice(0, 12))} (${describeOrigin(r.origin)})`;
    if (r.mismatches.length === 0) {
      process.stdout.write(`${pc.green('ok')} ${label}\n`);
      continue;
    }
    bad++;
    process.stdout.write(`${pc.red('MISMATCH')} ${label}: record removed\n`);
    for (const [port, want, got] of r.mismatches) process.stdout.write(`    ${port}: recorded ${want}, recomputed ${got}\n`);
  }
  for (const f of failed) process.stdout.write(`${pc.red('failed')} ${f}\n`);
  process.stdout.write(
    results.length === 0
      ? 'nothing to audit: no result of this pipeline came from a bundle or a remote\n'
      : `${results.length} result(s) from elsewhere recomputed, ${bad} mismatch(es)${bad ? ' (bad records removed)' : ''}\n`,
  );
  return bad > 0 || failed.length > 0 ? 1 : 0;
}

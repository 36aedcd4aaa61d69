// Executing a plan on this machine: the terminal view (or the JSON stream), the lockfile writer and
// the run record listen to one event stream; then the run's metrics are printed.
import pc from 'picocolors';
import { JsonReporter } from '../reporters/json.js';
import { TerminalReporter } from '../reporters/terminal.js';
import type { NodeRecord, RunListener } from '../runtime/execution/events.js';
import { redactRedisUrl } from '../runtime/execution/bullmq/connection.js';
import { execute } from '../runtime/execution/executor.js';
import type { Runner } from '../runtime/execution/runner.js';
import type { Plan } from '../runtime/planning/plan-types.js';
import { LockfileWriter, lockfilePath, lockfileTypes, readLockfile, type Lockfile } from '../runtime/results/lockfile.js';
import { scalars } from '../runtime/results/results.js';
import { RunRecordWriter } from '../runtime/results/run-record.js';
import { decodeArtifact } from '../runtime/store/artifact.js';
import { removeStaleSiblings } from '../runtime/store/atomic-file.js';
import { Store } from '../runtime/store/store.js';
import type { Json } from '../runtime/tensor.js';
import { SIEVE_VERSION } from '../version.js';
import { type PlanFlags } from './context.js';
import { type CacheFlags } from './defaults.js';
import { printResults, writeResultsFiles } from './results-view.js';


export interface RunFlags extends PlanFlags, CacheFlags {
  jobs?: string;
  json?: boolean;
  only?: string[];
  verbose?: boolean;
  executor?: string;
  wait?: boolean;
  /** The last job of a Slurm submission: follow that submission's jobs (all ended) and write the lockfile. */
  collect?: string;
  /** --executor bullmq: the queue, the workers' remote, retries. */
  queue?: string;
  remote?: string;
  retries?: string;
}

async function metricsTables(p: Plan, store: Store, lock: Lockfile): Promise<string[]> {
  await p.registry.load(lockfileTypes(lock));
  const out: string[] = [];
  for (const point of Object.values(lock.points)) {
    for (const [nodeId, rec] of Object.entries(point.nodes)) {
      for (const port of p.registry.get(rec.type)?.node.metrics ?? []) {
        const ref = rec.outputs[port];
        const bytes = ref && (await store.read(ref).catch(() => undefined));
        const value = bytes ? (decodeArtifact(ref, bytes) as Record<string, Json>) : undefined;
        if (value && typeof value.table === 'string') out.push(`${pc.bold(nodeId)}\n${value.table}`);
      }
    }
  }
  return out;
}

/** $SIEVE_HEARTBEAT_S: seconds between the progress lines of a running node in a log (default 10). */
function heartbeatMs(): number | undefined {
  const s = Number(process.env.SIEVE_HEARTBEAT_S);
  return process.env.SIEVE_HEARTBEAT_S && Number.isFinite(s) && s > 0 ? s * 1000 : undefined;
}

/** The flat metrics (`name → number`) of a node's metric ports, if its type has any. */
async function metricsOf(p: Plan, store: Store, record: NodeRecord): Promise<Record<string, Json> | undefined> {
  const ports = p.registry.get(record.type)?.node.metrics ?? [];
  let out: Record<string, Json> | undefined;
  for (const port of ports) {
    const ref = record.outputs[port];
    const bytes = ref && (await store.read(ref).catch(() => undefined));
    if (bytes) out = { ...out, ...scalars(decodeArtifact(ref, bytes) as Json) };
  }
  return out;
}

/** Executes the plan with the run's listeners (the view, the lockfile, the run record), then prints its metrics. */
export async function runWith(p: Plan, store: Store, flags: RunFlags, opts: { jobs: number; runner?: Runner }): Promise<number> {
  const lockPath = lockfilePath(p.file.path);
  // A lockfile this Sieve cannot read stops the run before anything runs (and is never overwritten).
  await readLockfile(lockPath);
  await removeStaleSiblings(lockPath); // temp files of a killed run that could not use the cache's tmp/
  const lockWriter = new LockfileWriter(p, SIEVE_VERSION, lockPath, store.tmpDir);
  const listeners: RunListener[] = [
    flags.json
      ? new JsonReporter(process.stdout, { metricsOf: (record) => metricsOf(p, store, record) })
      : new TerminalReporter({
          out: process.stdout,
          // Loaded only for a terminal: it is the heaviest import of a no-op rerun.
          live: process.stdout.isTTY ? (await import('log-update')).createLogUpdate(process.stdout) : undefined,
          size: () => ({ columns: process.stdout.columns, rows: process.stdout.rows }),
          heartbeatMs: heartbeatMs(),
          verbose: Boolean(flags.verbose),
          pointCount: p.points.length,
          color: pc.isColorSupported,
        }),
    lockWriter,
    // A queue URL's credentials never reach the run record.
    new RunRecordWriter(p, store, lockPath, process.argv.slice(2).map(redactRedisUrl)),
  ];
  const result = await execute(p, { store, jobs: opts.jobs, listeners, targets: flags.only, runner: opts.runner });
  // The lockfile this run wrote (or left as it was), rather than read again.
  const lock = lockWriter.lockfile;
  // results/<name>.* follow the lockfile after every run: every point, not only this run's.
  if (lock && !flags.json && p.points.length > 1) await printResults(p, store, {}, lock);
  else if (lock) {
    if (!flags.json) for (const t of await metricsTables(p, store, lock)) process.stdout.write(`\n${t}\n`);
    // A run that executed nothing changed no result (and a no-op rerun stays a few reads).
    if (result.summary.counts.ran > 0) await writeResultsFiles(p, store, lock);
  }
  return result.summary.ok ? 0 : 1;
}

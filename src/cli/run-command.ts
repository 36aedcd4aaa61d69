// `sieve run` / `sieve sweep`: execute a plan with the terminal view (or the JSON stream), the
// lockfile writer and the run record listening to one event stream; then print its metrics.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pc from 'picocolors';
import { decodeArtifact } from '../runtime/artifact.js';
import { UsageError } from '../runtime/errors.js';
import type { RunListener } from '../runtime/events.js';
import { execute } from '../runtime/executor.js';
import { parseExecutorSpec, resolveExecutor, type ExecutorSpec } from '../runtime/executor-config.js';
import { LockfileWriter, lockfilePath, lockfileTypes, readLockfile, type Lockfile } from '../runtime/lockfile.js';
import type { Plan } from '../runtime/plan.js';
import { collectResults, printableColumns, toCsv } from '../runtime/results.js';
import { userConfigPath } from '../runtime/remotes/user-config-path.js';
import { RunRecordWriter } from '../runtime/run-record.js';
import type { Runner } from '../runtime/runner.js';
import { Store } from '../runtime/store.js';
import type { Json } from '../runtime/tensor.js';
import { JsonReporter } from '../reporters/json.js';
import { TerminalReporter } from '../reporters/terminal.js';
import { textTable } from '../reporters/format.js';
import { SIEVE_VERSION } from '../version.js';
import { planPipeline, type PlanFlags } from './context.js';
import { resolveCacheDir, type CacheFlags } from './defaults.js';

export interface RunFlags extends PlanFlags, CacheFlags {
  jobs?: string;
  json?: boolean;
  only?: string[];
  verbose?: boolean;
  executor?: string;
  wait?: boolean;
  /** The last job of a Slurm submission: follow that submission's jobs (all ended) and write the lockfile. */
  collect?: string;
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

/**
 * The results table of a grid: printed (columns that vary), and written as CSV and JSON. `lock` is
 * the pipeline's lockfile, read from its file when not given.
 */
export async function printResults(p: Plan, store: Store, outDir: string | undefined, lock?: Lockfile): Promise<void> {
  lock ??= await readLockfile(lockfilePath(p.file.path));
  if (!lock) throw new UsageError(`no lockfile for ${p.file.path}: run the pipeline first`);
  const table = await collectResults(lock, p.registry, store);
  const dir = resolve(outDir ?? 'results');
  await mkdir(dir, { recursive: true });
  const base = join(dir, p.file.name);
  await writeFile(`${base}.csv`, toCsv(table));
  await writeFile(`${base}.json`, `${JSON.stringify(table, null, 1)}\n`);
  const columns = printableColumns(table, table.paramColumns);
  process.stdout.write(`${textTable(columns, table.rows.map((r) => columns.map((c) => asCell(r[c]))))}\n`);
  if (columns.length < table.columns.length) {
    process.stdout.write(pc.dim(`(${table.columns.length - columns.length} metric column(s) equal at every point are only in the files)\n`));
  }
  if (table.missing.length) process.stdout.write(pc.yellow(`no metrics yet for: ${table.missing.join(', ')}\n`));
  process.stdout.write(pc.dim(`written ${base}.csv and ${base}.json\n`));
}

function asCell(v: Json | undefined): string | number | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'number' || typeof v === 'string' ? v : JSON.stringify(v);
}

/** Runs the pipeline; `requireGrid` is `sweep`'s check that there is something to sweep. Returns the exit code. */
export async function runCommand(pipeline: string | undefined, flags: RunFlags, requireGrid = false): Promise<number> {
  const p = await planPipeline(pipeline, flags, true);
  if (requireGrid && p.points.length < 2) throw new UsageError('sweep needs a grid: a `sweep:` section or --grid/--zip');
  const store = new Store(resolveCacheDir(flags, p.file));
  const jobs = flags.jobs ? Number(flags.jobs) : p.file.jobs ?? availableParallelism();
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a positive integer, got ${flags.jobs}`);
  const unknown = (flags.only ?? []).filter((id) => !p.file.nodes.some((n) => n.id === id));
  if (unknown.length) throw new UsageError(`--only names unknown node(s): ${unknown.join(', ')}`);
  const executor = resolveExecutor({
    flag: flags.executor,
    pipeline: p.file.executor ? parseExecutorSpec(p.file.executor, p.file.path) : undefined,
    user: await userExecutor(),
  });
  if (executor.type === 'slurm') return (await import('./slurm-run.js')).slurmRun(p, store, flags, executor);
  if (flags.wait || flags.collect) throw new UsageError('--wait is an option of --executor slurm');
  return runWith(p, store, flags, { jobs });
}

/** The user config's `executor:` section; the YAML parser is loaded only when the file has one. */
async function userExecutor(): Promise<ExecutorSpec | undefined> {
  const path = userConfigPath();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  if (!/^executor\s*:/m.test(text)) return undefined;
  const { parse } = await import('yaml');
  return parseExecutorSpec((parse(text) as Record<string, unknown>).executor, path);
}

/** Executes the plan with the run's listeners (the view, the lockfile, the run record), then prints its metrics. */
export async function runWith(p: Plan, store: Store, flags: RunFlags, opts: { jobs: number; runner?: Runner }): Promise<number> {
  const lockPath = lockfilePath(p.file.path);
  const lockWriter = new LockfileWriter(p, SIEVE_VERSION, lockPath);
  const listeners: RunListener[] = [
    flags.json
      ? new JsonReporter(process.stdout)
      : new TerminalReporter({
          out: process.stdout,
          // Loaded only for a terminal: it is the heaviest import of a no-op rerun.
          live: process.stdout.isTTY ? (await import('log-update')).createLogUpdate(process.stdout) : undefined,
          verbose: Boolean(flags.verbose),
          pointCount: p.points.length,
        }),
    lockWriter,
    new RunRecordWriter(p, store, lockPath),
  ];
  const result = await execute(p, { store, jobs: opts.jobs, listeners, targets: flags.only, runner: opts.runner });
  // The lockfile this run wrote (or left as it was), rather than read again.
  const lock = lockWriter.lockfile;
  if (!flags.json && lock) {
    if (p.points.length > 1) await printResults(p, store, undefined, lock);
    else for (const t of await metricsTables(p, store, lock)) process.stdout.write(`\n${t}\n`);
  }
  return result.summary.ok ? 0 : 1;
}

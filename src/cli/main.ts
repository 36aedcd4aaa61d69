// The `sieve` command line.
import { availableParallelism } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import pc from 'picocolors';
import { builtinRegistry } from '../nodes/index.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { SieveError, UsageError, ValidationError, errorMessage } from '../runtime/errors.js';
import type { RunListener } from '../runtime/events.js';
import { execute } from '../runtime/executor.js';
import { summarize } from '../runtime/inspect.js';
import { LockfileWriter, lockfilePath, readLockfile } from '../runtime/lockfile.js';
import { collectGarbage, verifyStore } from '../runtime/maintenance.js';
import { loadPlan, type Plan } from '../runtime/plan.js';
import { collectResults, printableColumns, toCsv } from '../runtime/results.js';
import { RunRecordWriter } from '../runtime/run-record.js';
import { pipelineStatus } from '../runtime/status.js';
import { Store } from '../runtime/store.js';
import type { Json } from '../runtime/tensor.js';
import { JsonReporter } from '../reporters/json.js';
import { TerminalReporter } from '../reporters/terminal.js';
import { formatBytes, formatMs, textTable } from '../reporters/format.js';
import { SIEVE_VERSION } from '../version.js';
import { dagMermaid, dagText } from './dag-view.js';
import { addSharingCommands } from './sharing-commands.js';

export const DEFAULT_PIPELINE = 'pipelines/quickstart.yaml';

interface PlanFlags {
  param?: string[];
  grid?: string[];
  zip?: string[];
  sweep?: boolean;
  plugin?: string[];
}

interface CommonFlags {
  cache?: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function addPlanOptions(cmd: Command): Command {
  return cmd
    .option('-p, --param <path=value>', 'override a parameter, e.g. relabel.absorb=0.9 (repeatable)', collect)
    .option('--grid <path=v1,v2>', 'sweep a parameter over values (cartesian product; repeatable)', collect)
    .option('--zip <path=v1,v2>', 'sweep parameters in lockstep (paired lists; repeatable)', collect)
    .option('--no-sweep', "ignore the pipeline's sweep section")
    .option('--plugin <module>', 'load node types from a JavaScript module (repeatable)', collect);
}

function addCacheOption(cmd: Command): Command {
  return cmd.option('--cache <dir>', 'cache directory (default: $SIEVE_CACHE, the pipeline\'s `cache`, or ./artifacts)');
}

async function plan(pipeline: string, flags: PlanFlags): Promise<Plan> {
  return loadPlan(pipeline, {
    registry: await builtinRegistry(),
    overrides: flags.param,
    grid: flags.grid,
    zip: flags.zip,
    noSweep: flags.sweep === false,
    plugins: flags.plugin,
  });
}

export function resolveCacheDir(flags: CommonFlags, p?: Plan): string {
  if (flags.cache) return resolve(flags.cache);
  if (process.env.SIEVE_CACHE) return resolve(process.env.SIEVE_CACHE);
  if (p?.file.cache) return resolve(p.file.baseDir, p.file.cache);
  return resolve('artifacts');
}

async function metricsTables(p: Plan, store: Store): Promise<string[]> {
  const lock = await readLockfile(lockfilePath(p.file.path));
  if (!lock) return [];
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

async function printResults(p: Plan, store: Store, outDir: string | undefined, quiet: boolean): Promise<void> {
  const lock = await readLockfile(lockfilePath(p.file.path));
  if (!lock) throw new UsageError(`no lockfile for ${p.file.path}: run the pipeline first`);
  const table = await collectResults(lock, p.registry, store);
  const dir = resolve(outDir ?? 'results');
  await mkdir(dir, { recursive: true });
  const base = join(dir, p.file.name);
  await writeFile(`${base}.csv`, toCsv(table));
  await writeFile(`${base}.json`, `${JSON.stringify(table, null, 1)}\n`);
  if (quiet) return;
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

interface RunFlags extends PlanFlags, CommonFlags {
  jobs?: string;
  json?: boolean;
  only?: string[];
  verbose?: boolean;
}

async function runCommand(pipeline: string, flags: RunFlags): Promise<number> {
  const p = await plan(pipeline, flags);
  const store = new Store(resolveCacheDir(flags, p));
  const jobs = flags.jobs ? Number(flags.jobs) : p.file.jobs ?? availableParallelism();
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a positive integer, got ${flags.jobs}`);
  const unknown = (flags.only ?? []).filter((id) => !p.file.nodes.some((n) => n.id === id));
  if (unknown.length) throw new UsageError(`--only names unknown node(s): ${unknown.join(', ')}`);
  const lockPath = lockfilePath(p.file.path);
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
    new LockfileWriter(p, SIEVE_VERSION, lockPath),
    new RunRecordWriter(p, store, lockPath),
  ];
  const result = await execute(p, { store, jobs, listeners, targets: flags.only });
  if (!flags.json) {
    if (p.points.length > 1) await printResults(p, store, undefined, false);
    else for (const t of await metricsTables(p, store)) process.stdout.write(`\n${t}\n`);
  }
  return result.summary.ok ? 0 : 1;
}

export function buildProgram(): Command {
  const program = new Command('sieve')
    .description('Content-addressed pipelines for learning-with-noisy-labels experiments')
    .version(SIEVE_VERSION)
    .showHelpAfterError();

  const addRun = (name: string, description: string): void => {
    const cmd = program.command(`${name} [pipeline]`).description(description);
    addCacheOption(addPlanOptions(cmd))
      .option('-j, --jobs <n>', 'nodes to run at once (default: CPUs)')
      .option('--json', 'print one JSON object per event line instead of the live view')
      .option('--only <node>', 'run only this node and its ancestors (repeatable)', collect)
      .option('-v, --verbose', 'show node logs')
      .action(async (pipeline: string | undefined, flags: RunFlags) => {
        if (name === 'sweep' && !(flags.grid?.length || flags.zip?.length)) {
          const p = await plan(pipeline ?? DEFAULT_PIPELINE, flags);
          if (p.points.length < 2) throw new UsageError('sweep needs a grid: a `sweep:` section or --grid/--zip');
        }
        process.exitCode = await runCommand(pipeline ?? DEFAULT_PIPELINE, flags);
      });
  };
  addRun('run', `run a pipeline (default ${DEFAULT_PIPELINE}), reusing every cached node`);
  addRun('sweep', 'run a parameter grid (the sweep section, --grid or --zip); shared nodes run once');

  addCacheOption(addPlanOptions(program.command('status [pipeline]')))
    .description('which nodes are stale, and why (which param, input or file changed)')
    .option('--json', 'machine-readable output')
    .action(async (pipeline: string | undefined, flags: PlanFlags & CommonFlags & { json?: boolean }) => {
      const p = await plan(pipeline ?? DEFAULT_PIPELINE, flags);
      const lock = await readLockfile(lockfilePath(p.file.path));
      const lines = await pipelineStatus(p, new Store(resolveCacheDir(flags, p)), lock);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(lines)}\n`);
        return;
      }
      const stale = lines.filter((l) => l.state === 'stale');
      for (const l of lines) {
        const where = p.points.length > 1 ? pc.dim(` [${l.point}]`) : '';
        const mark = l.state === 'up-to-date' ? pc.green('up to date') : pc.yellow('stale');
        process.stdout.write(`${l.nodeId}${where}: ${mark}\n`);
        for (const r of l.reasons) process.stdout.write(`    ${r}\n`);
      }
      process.stdout.write(stale.length === 0 ? pc.green('everything is up to date\n') : `${stale.length} of ${lines.length} node(s) would run\n`);
    });

  addPlanOptions(program.command('dag [pipeline]'))
    .description('print the pipeline graph as a text tree, or as Mermaid')
    .option('--mermaid', 'Mermaid flowchart output')
    .action(async (pipeline: string | undefined, flags: PlanFlags & { mermaid?: boolean }) => {
      const p = await plan(pipeline ?? DEFAULT_PIPELINE, flags);
      process.stdout.write(`${flags.mermaid ? dagMermaid(p) : dagText(p)}\n`);
    });

  addCacheOption(addPlanOptions(program.command('show <node> [pipeline]')))
    .description('shapes, dtypes and summary statistics of a node\'s outputs (from the lockfile)')
    .option('--point <id>', 'grid point (default: the first)')
    .option('--json', 'machine-readable output')
    .action(async (node: string, pipeline: string | undefined, flags: PlanFlags & CommonFlags & { point?: string; json?: boolean }) => {
      const p = await plan(pipeline ?? DEFAULT_PIPELINE, flags);
      const lock = await readLockfile(lockfilePath(p.file.path));
      if (!lock) throw new UsageError(`no lockfile for ${p.file.path}: run the pipeline first`);
      const pointId = flags.point ?? Object.keys(lock.points)[0];
      const point = lock.points[pointId];
      if (!point) throw new UsageError(`no grid point "${pointId}" in the lockfile (points: ${Object.keys(lock.points).join(', ')})`);
      const rec = point.nodes[node];
      if (!rec) throw new UsageError(`node "${node}" has no record at point ${pointId} (nodes: ${Object.keys(point.nodes).join(', ')})`);
      const store = new Store(resolveCacheDir(flags, p));
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
    });

  addCacheOption(addPlanOptions(program.command('results [pipeline]')))
    .description('a table of swept params × metrics across grid points (printed, and written as CSV and JSON)')
    .option('-o, --out <dir>', 'where to write <name>.csv and <name>.json', 'results')
    .action(async (pipeline: string | undefined, flags: PlanFlags & CommonFlags & { out: string }) => {
      const p = await plan(pipeline ?? DEFAULT_PIPELINE, flags);
      await printResults(p, new Store(resolveCacheDir(flags, p)), flags.out, false);
    });

  addCacheOption(program.command('verify'))
    .description('hash every object in the cache and report corrupt ones')
    .option('--repair', 'remove corrupt objects so the next run recomputes them')
    .action(async (flags: CommonFlags & { repair?: boolean }) => {
      const report = await verifyStore(new Store(resolveCacheDir(flags)), { repair: Boolean(flags.repair) });
      for (const b of report.bad) process.stdout.write(`${pc.red('bad')} ${b.hash}: ${b.reason}\n`);
      process.stdout.write(`${report.checked} object(s) checked, ${report.bad.length} bad${report.repaired ? ' (removed; they will be recomputed)' : ''}\n`);
      if (report.bad.length > 0 && !report.repaired) process.exitCode = 1;
    });

  addCacheOption(program.command('gc [lockfiles...]'))
    .description('remove objects that no run record or lockfile refers to')
    .option('--dry-run', 'only report what would be removed')
    .action(async (lockfiles: string[], flags: CommonFlags & { dryRun?: boolean }) => {
      const r = await collectGarbage(new Store(resolveCacheDir(flags)), { dryRun: Boolean(flags.dryRun), lockfiles: lockfiles.map((l) => resolve(l)) });
      const verb = r.dryRun ? 'would remove' : 'removed';
      process.stdout.write(`${verb} ${r.removedObjects} object(s) (${formatBytes(r.removedBytes)}) and ${r.removedActions} action record(s); kept ${r.keptObjects} object(s) referenced by ${r.roots.length} root(s)\n`);
    });

  addSharingCommands(program);
  for (const cmd of program.commands) {
    cmd.addOption(new Option('--debug', 'print stack traces').hideHelp());
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof ValidationError) {
      process.stderr.write(`${pc.red('error:')} ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof SieveError) {
      process.stderr.write(`${pc.red('error:')} ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`${pc.red('error:')} ${errorMessage(e)}\n`);
    if (argv.includes('--debug') && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}

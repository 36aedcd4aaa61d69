// The `sieve` command line. This module declares the commands; what `run` does is imported with it
// (a no-op rerun is the start-up that matters), what the others do only when they run.
import pc from 'picocolors';
import { SieveError, ValidationError, errorMessage } from '../runtime/errors.js';
import { SIEVE_VERSION } from '../version.js';
import { runProgram, type CommandSpec, type OptionSpec, type ProgramSpec } from './args.js';
import type { PlanFlags } from './context.js';
import type { ShowFlags } from './inspect-commands.js';
import type { ReportFlags } from './report-command.js';
import type { ResultsFlags } from './results-view.js';
import { CACHE_OPTION, DEFAULT_PIPELINE, type CacheFlags } from './defaults.js';
import { runCommand, type RunFlags } from './run-command.js';
import { sharingCommands } from './sharing-commands.js';

const inspect = () => import('./inspect-commands.js');
const storeCommands = () => import('./store-commands.js');
const report = () => import('./report-command.js');
const audit = () => import('./audit-command.js');
const execTask = () => import('./exec-task-command.js');

const PLAN_OPTIONS: OptionSpec[] = [
  { name: 'param', short: 'p', value: '<path=value>', repeatable: true, description: 'override a parameter, e.g. relabel.absorb=0.9 (repeatable)' },
  { name: 'grid', value: '<path=v1,v2>', repeatable: true, description: 'sweep a parameter over values (cartesian product; repeatable)' },
  { name: 'zip', value: '<path=v1,v2>', repeatable: true, description: 'sweep parameters in lockstep (paired lists; repeatable)' },
  { name: 'no-sweep', description: "ignore the pipeline's sweep section" },
  { name: 'plugin', value: '<module>', repeatable: true, description: 'load node types from a JavaScript module (repeatable)' },
];

const QUEUE_OPTIONS: OptionSpec[] = [
  { name: 'queue', value: '<redis-url>', description: 'bullmq: the task queue, redis://HOST:PORT/DB (default: $SIEVE_REDIS_URL)' },
  { name: 'remote', value: '<name>', description: 'bullmq: the remote the workers share instead of the cache (name, directory or s3://)' },
  { name: 'retries', value: '<n>', description: 'bullmq: attempts after a failed one, with backoff (default 2)' },
];

const JSON_OPTION: OptionSpec = { name: 'json', description: 'machine-readable output' };

type Args = (string | string[] | undefined)[];
const pipelineArg = (args: Args): string | undefined => args[0] as string | undefined;

function runSpec(name: 'run' | 'sweep', description: string): CommandSpec {
  return {
    name, args: ['[pipeline]'], description,
    options: [
      ...PLAN_OPTIONS, CACHE_OPTION,
      { name: 'jobs', short: 'j', value: '<n>', description: 'nodes to run at once (default: CPUs)' },
      { name: 'json', description: 'print one JSON object per event line instead of the live view' },
      { name: 'only', value: '<node>', repeatable: true, description: 'run only this node and its ancestors (repeatable)' },
      { name: 'verbose', short: 'v', description: 'show node logs' },
      { name: 'executor', value: '<local|slurm|bullmq>', description: "where nodes run (default: the pipeline's or user config's `executor:`, else local)" },
      ...QUEUE_OPTIONS,
      { name: 'wait', description: 'slurm: follow the jobs and write the lockfile here (default: submit and return)' },
      { name: 'collect', value: '<submission>', description: "a Slurm submission's last job: write the lockfile and results", hidden: true },
    ],
    action: async (args, flags) => {
      const f = flags as RunFlags;
      const requireGrid = name === 'sweep' && !(f.grid?.length || f.zip?.length);
      process.exitCode = await runCommand(pipelineArg(args), f, requireGrid);
    },
  };
}

export function programSpec(): ProgramSpec {
  const commands: CommandSpec[] = [
    runSpec('run', `run a pipeline (default ${DEFAULT_PIPELINE}), reusing every cached node`),
    runSpec('sweep', 'run a parameter grid (the sweep section, --grid or --zip); shared nodes run once'),
    {
      name: 'status', args: ['[pipeline]'], description: 'which nodes are stale, and why (which param, input or file changed)',
      options: [...PLAN_OPTIONS, CACHE_OPTION, JSON_OPTION],
      action: async (args, flags) => (await inspect()).statusCommand(pipelineArg(args), flags as PlanFlags & CacheFlags & { json?: boolean }),
    },
    {
      name: 'dag', args: ['[pipeline]'], description: 'print the pipeline graph as a text tree, or as Mermaid',
      options: [...PLAN_OPTIONS, { name: 'mermaid', description: 'Mermaid flowchart output' }],
      action: async (args, flags) => (await inspect()).dagCommand(pipelineArg(args), flags as PlanFlags & { mermaid?: boolean }),
    },
    {
      name: 'show', args: ['<node>', '[pipeline]'], description: "shapes, dtypes, statistics and object paths of a node's outputs (from the lockfile); --out writes one for NumPy/PyTorch",
      options: [
        ...PLAN_OPTIONS, CACHE_OPTION, { name: 'point', value: '<id>', description: 'grid point (default: the first that has the node)' }, JSON_OPTION,
        { name: 'out', short: 'o', value: '<file>', description: 'write an output to FILE.npy, FILE.safetensors (tensors named by port) or FILE.json' },
        { name: 'port', value: '<name>', description: 'the output to write with --out (default: the only one of its kind)' },
      ],
      action: async (args, flags) => (await inspect()).showCommand(args[0] as string, args[1] as string | undefined, flags as ShowFlags),
    },
    {
      name: 'results', args: ['[pipeline]'], description: 'a table of swept params × metrics across grid points (printed, and written as CSV and JSON)',
      options: [
        ...PLAN_OPTIONS, CACHE_OPTION,
        { name: 'out', short: 'o', value: '<dir>', description: 'where to write <name>.csv and <name>.json (default: results/ at the project root)' },
        { name: 'metric', short: 'm', value: '<name>', repeatable: true, description: 'metric column to show (full name, its last part, or a glob; repeatable)' },
        { name: 'sort', value: '<metric>', description: 'order the points best first by this metric' },
        { name: 'best', value: '<metric>', description: 'show only the best point by this metric' },
        { name: 'filter', value: '<expr>', repeatable: true, description: "keep points where e.g. 'relabel.absorb>=0.8' (< <= > >= = !=; repeatable)" },
        { name: 'over', value: '<axis>', description: 'mean ± std over a swept param (e.g. seed) for each remaining point' },
        { name: 'latest', description: "only the points of the pipeline's last run" },
        { name: 'json', description: 'print the table as JSON' },
        { name: 'csv', description: 'print the table as CSV' },
      ],
      action: async (args, flags) => (await inspect()).resultsCommand(pipelineArg(args), flags as PlanFlags & CacheFlags & ResultsFlags),
    },
    {
      name: 'runs', args: ['[pipeline]'], description: "the pipeline's past runs: time, status, points, nodes, duration, command line",
      options: [...PLAN_OPTIONS, CACHE_OPTION, { name: 'limit', short: 'n', value: '<n>', description: 'how many of the latest runs (default 20; 0: all)' }, JSON_OPTION],
      action: async (args, flags) => (await inspect()).runsCommand(pipelineArg(args), flags as PlanFlags & CacheFlags & { json?: boolean; limit?: string }),
    },
    {
      name: 'report', args: ['[pipeline]'], description: 'one self-contained HTML page with plots of the results (works offline)',
      options: [
        ...PLAN_OPTIONS, CACHE_OPTION,
        { name: 'output', short: 'o', value: '<file>', default: 'report.html', description: 'the HTML file to write' },
        { name: 'metric', short: 'm', value: '<name>', repeatable: true, description: 'metric to plot (default: the varying ones; repeatable)' },
        { name: 'over', value: '<axis>', description: 'plot means ± std over a swept param (e.g. seed)' },
        { name: 'filter', value: '<expr>', repeatable: true, description: "only points where e.g. 'relabel.absorb>=0.8' (repeatable)" },
        { name: 'point', value: '<id>', description: 'the point whose per-class plots and matrices are shown (default: the best)' },
      ],
      action: async (args, flags) => (await report()).reportCommand(pipelineArg(args), flags as ReportFlags),
    },
    {
      name: 'logs', args: ['<node>', '[pipeline]'], description: "the log of a node's latest execution (a command node's stdout and stderr)",
      options: [...PLAN_OPTIONS, CACHE_OPTION, { name: 'point', value: '<id>', description: 'grid point (default: the first)' }],
      action: async (args, flags) =>
        (await import('./logs-command.js')).logsCommand(args[0] as string, args[1] as string | undefined, flags as PlanFlags & CacheFlags & { point?: string }),
    },
    {
      name: 'types', args: ['[type]'], description: 'node types with their input and output ports and params',
      options: [{ name: 'plugin', value: '<module>', repeatable: true, description: 'also node types from a JavaScript module (repeatable)' }, JSON_OPTION],
      action: async (args, flags) => (await import('./types-command.js')).typesCommand(args[0] as string | undefined, flags as { plugin?: string[]; json?: boolean }),
    },
    ...sharingCommands(async (flags) => (await storeCommands()).verifyCommand(flags)),
    {
      name: 'audit', args: ['[pipeline]'],
      description: 'recompute results that came from a bundle or a remote and compare output hashes; removes bad records (exit 1)',
      options: [
        ...PLAN_OPTIONS, CACHE_OPTION,
        { name: 'node', value: '<id>', description: 'only this node (its ancestors are used as they are)' },
        { name: 'fraction', value: '<f>', description: 'recompute this fraction of them, chosen by key (default: 1, all)' },
        { name: 'jobs', short: 'j', value: '<n>', description: 'nodes to run at once (default: CPUs)' },
      ],
      action: async (args, flags) => {
        process.exitCode = await (await audit()).auditCommand(pipelineArg(args), flags as import('./audit-command.js').AuditFlags);
      },
    },
    {
      name: 'gc', args: ['[lockfiles...]'], description: 'remove objects that no run record or lockfile refers to',
      options: [CACHE_OPTION, { name: 'dry-run', description: 'only report what would be removed' }],
      action: async (args, flags) => (await storeCommands()).gcCommand(args[0] as string[], flags as CacheFlags & { dryRun?: boolean }),
    },
    {
      name: 'worker', args: [], description: 'process tasks from a BullMQ queue on Redis (a worker of `sieve run --executor bullmq`)',
      options: [
        { name: 'queue', value: '<redis-url>', description: 'the task queue, redis://[user:password@]HOST:PORT/DB (default: $SIEVE_REDIS_URL)' },
        { name: 'concurrency', short: 'c', value: '<n>', description: 'tasks run at once (default 1)' },
        { name: 'cache', value: '<dir>', description: "this worker's cache (default: $SIEVE_CACHE, else artifacts/ at the working directory's project root)" },
        { name: 'remote', value: '<name>', description: 'read inputs from and push outputs to this remote (workers that share no filesystem)' },
        { name: 'plugin', value: '<module>', repeatable: true, description: 'also run node types from this JavaScript module (repeatable)' },
        { name: 'allow-command', description: 'run `command` nodes (refused by default)' },
        { name: 'lock-ms', value: '<ms>', description: "a task's lock time: a dead worker's task moves to another after it (default 30000)" },
        { name: 'name', value: '<name>', description: 'how progress views name this worker (default host:pid)' },
      ],
      action: async (_args, flags) => {
        process.exitCode = await (await import('./worker-command.js')).workerCommand(flags as import('./worker-command.js').WorkerFlags);
      },
    },
    {
      name: 'exec-task', args: ['<task>'], description: 'run one node instance from a task description file (what a cluster job runs)',
      options: [],
      action: async (args) => {
        process.exitCode = await (await execTask()).execTaskCommand(args[0] as string);
      },
    },
  ];
  for (const c of commands) c.options = [...c.options, { name: 'debug', description: 'print stack traces', hidden: true }];
  return { name: 'sieve', version: SIEVE_VERSION, description: 'Content-addressed pipelines for learning-with-noisy-labels experiments', commands };
}

export async function main(argv: string[]): Promise<number> {
  try {
    await runProgram(programSpec(), argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (argv.includes('--json')) {
      // Scripts reading --json get the failure as JSON too: one line, with each located problem.
      const problems = e instanceof ValidationError ? e.diagnostics : undefined;
      process.stdout.write(`${JSON.stringify({ event: 'error', exitCode: e instanceof SieveError ? e.exitCode : 1, message: errorMessage(e), problems })}\n`);
    }
    process.stderr.write(`${pc.red('error:')} ${errorMessage(e)}\n`);
    if (argv.includes('--debug') && e instanceof Error && !(e instanceof SieveError)) process.stderr.write(`${e.stack}\n`);
    return e instanceof SieveError ? e.exitCode : 1;
  }
}


// The `sieve` command line. This module declares the commands; what `run` does is imported with it
// (a no-op rerun is the start-up that matters), what the others do only when they run.
import pc from 'picocolors';
import { SieveError, errorMessage } from '../runtime/errors.js';
import { SIEVE_VERSION } from '../version.js';
import { runProgram, type CommandSpec, type OptionSpec, type ProgramSpec } from './args.js';
import type { PlanFlags } from './context.js';
import { CACHE_OPTION, DEFAULT_PIPELINE, type CacheFlags } from './defaults.js';
import { runCommand, type RunFlags } from './run-command.js';
import { sharingCommands } from './sharing-commands.js';

const inspect = () => import('./inspect-commands.js');
const storeCommands = () => import('./store-commands.js');
const execTask = () => import('./exec-task-command.js');

const PLAN_OPTIONS: OptionSpec[] = [
  { name: 'param', short: 'p', value: '<path=value>', repeatable: true, description: 'override a parameter, e.g. relabel.absorb=0.9 (repeatable)' },
  { name: 'grid', value: '<path=v1,v2>', repeatable: true, description: 'sweep a parameter over values (cartesian product; repeatable)' },
  { name: 'zip', value: '<path=v1,v2>', repeatable: true, description: 'sweep parameters in lockstep (paired lists; repeatable)' },
  { name: 'no-sweep', description: "ignore the pipeline's sweep section" },
  { name: 'plugin', value: '<module>', repeatable: true, description: 'load node types from a JavaScript module (repeatable)' },
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
      { name: 'executor', value: '<local|slurm>', description: "where nodes run (default: the pipeline's or user config's `executor:`, else local)" },
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
      name: 'show', args: ['<node>', '[pipeline]'], description: "shapes, dtypes and summary statistics of a node's outputs (from the lockfile)",
      options: [...PLAN_OPTIONS, CACHE_OPTION, { name: 'point', value: '<id>', description: 'grid point (default: the first)' }, JSON_OPTION],
      action: async (args, flags) =>
        (await inspect()).showCommand(args[0] as string, args[1] as string | undefined, flags as PlanFlags & CacheFlags & { point?: string; json?: boolean }),
    },
    {
      name: 'results', args: ['[pipeline]'], description: 'a table of swept params × metrics across grid points (printed, and written as CSV and JSON)',
      options: [...PLAN_OPTIONS, CACHE_OPTION, { name: 'out', short: 'o', value: '<dir>', default: 'results', description: 'where to write <name>.csv and <name>.json' }],
      action: async (args, flags) => (await inspect()).resultsCommand(pipelineArg(args), flags as PlanFlags & CacheFlags & { out?: string }),
    },
    ...sharingCommands(async (flags) => (await storeCommands()).verifyCommand(flags)),
    {
      name: 'gc', args: ['[lockfiles...]'], description: 'remove objects that no run record or lockfile refers to',
      options: [CACHE_OPTION, { name: 'dry-run', description: 'only report what would be removed' }],
      action: async (args, flags) => (await storeCommands()).gcCommand(args[0] as string[], flags as CacheFlags & { dryRun?: boolean }),
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
    process.stderr.write(`${pc.red('error:')} ${errorMessage(e)}\n`);
    if (argv.includes('--debug') && e instanceof Error && !(e instanceof SieveError)) process.stderr.write(`${e.stack}\n`);
    return e instanceof SieveError ? e.exitCode : 1;
  }
}


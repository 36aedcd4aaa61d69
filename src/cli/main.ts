// The `sieve` command line. This module only declares the commands: what each one does is imported
// when it runs, so that a no-op `sieve run` loads no more code than running needs.
import { Command, Option } from 'commander';
import pc from 'picocolors';
import { SieveError, errorMessage } from '../runtime/errors.js';
import { SIEVE_VERSION } from '../version.js';
import type { PlanFlags } from './context.js';
import { DEFAULT_PIPELINE, type CacheFlags } from './defaults.js';
import type { RunFlags } from './run-command.js';
import { addSharingCommands } from './sharing-commands.js';

const inspect = () => import('./inspect-commands.js');
const storeCommands = () => import('./store-commands.js');

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

export function buildProgram(): Command {
  const program = new Command('sieve')
    .description('Content-addressed pipelines for learning-with-noisy-labels experiments')
    .version(SIEVE_VERSION)
    .showHelpAfterError();

  const addRun = (name: 'run' | 'sweep', description: string): void => {
    const cmd = program.command(`${name} [pipeline]`).description(description);
    addCacheOption(addPlanOptions(cmd))
      .option('-j, --jobs <n>', 'nodes to run at once (default: CPUs)')
      .option('--json', 'print one JSON object per event line instead of the live view')
      .option('--only <node>', 'run only this node and its ancestors (repeatable)', collect)
      .option('-v, --verbose', 'show node logs')
      .action(async (pipeline: string | undefined, flags: RunFlags) => {
        const requireGrid = name === 'sweep' && !(flags.grid?.length || flags.zip?.length);
        const { runCommand } = await import('./run-command.js');
        process.exitCode = await runCommand(pipeline, flags, requireGrid);
      });
  };
  addRun('run', `run a pipeline (default ${DEFAULT_PIPELINE}), reusing every cached node`);
  addRun('sweep', 'run a parameter grid (the sweep section, --grid or --zip); shared nodes run once');

  addCacheOption(addPlanOptions(program.command('status [pipeline]')))
    .description('which nodes are stale, and why (which param, input or file changed)')
    .option('--json', 'machine-readable output')
    .action(async (pipeline: string | undefined, flags: PlanFlags & CacheFlags & { json?: boolean }) => {
      await (await inspect()).statusCommand(pipeline, flags);
    });

  addPlanOptions(program.command('dag [pipeline]'))
    .description('print the pipeline graph as a text tree, or as Mermaid')
    .option('--mermaid', 'Mermaid flowchart output')
    .action(async (pipeline: string | undefined, flags: PlanFlags & { mermaid?: boolean }) => {
      await (await inspect()).dagCommand(pipeline, flags);
    });

  addCacheOption(addPlanOptions(program.command('show <node> [pipeline]')))
    .description('shapes, dtypes and summary statistics of a node\'s outputs (from the lockfile)')
    .option('--point <id>', 'grid point (default: the first)')
    .option('--json', 'machine-readable output')
    .action(async (node: string, pipeline: string | undefined, flags: PlanFlags & CacheFlags & { point?: string; json?: boolean }) => {
      await (await inspect()).showCommand(node, pipeline, flags);
    });

  addCacheOption(addPlanOptions(program.command('results [pipeline]')))
    .description('a table of swept params × metrics across grid points (printed, and written as CSV and JSON)')
    .option('-o, --out <dir>', 'where to write <name>.csv and <name>.json', 'results')
    .action(async (pipeline: string | undefined, flags: PlanFlags & CacheFlags & { out: string }) => {
      await (await inspect()).resultsCommand(pipeline, flags);
    });

  addCacheOption(program.command('gc [lockfiles...]'))
    .description('remove objects that no run record or lockfile refers to')
    .option('--dry-run', 'only report what would be removed')
    .action(async (lockfiles: string[], flags: CacheFlags & { dryRun?: boolean }) => {
      await (await storeCommands()).gcCommand(lockfiles, flags);
    });

  addSharingCommands(program, async (flags) => (await storeCommands()).verifyCommand(flags));
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
    process.stderr.write(`${pc.red('error:')} ${errorMessage(e)}\n`);
    if (argv.includes('--debug') && e instanceof Error && !(e instanceof SieveError)) process.stderr.write(`${e.stack}\n`);
    return e instanceof SieveError ? e.exitCode : 1;
  }
}

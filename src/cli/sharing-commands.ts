// Declares `sieve push`, `pull`, `export`, `import` and `verify --remote`: sharing results with a
// team. What they do is in sharing.ts, loaded only when one of them runs.
import type { Command } from 'commander';
import { UsageError } from '../runtime/errors.js';
import type { TransferFlags } from './sharing.js';

const sharing = () => import('./sharing.js');

function transferOptions(cmd: Command): Command {
  return cmd
    .option('-r, --remote <name|path|s3://bucket/prefix>', 'remote to use (default: the pipeline\'s `remote:`, then default_remote of the user config)')
    .option('--node <id>', 'only this node and its ancestors')
    .option('--point <id>', 'only this grid point')
    .option('-j, --jobs <n>', 'objects transferred at once', '8')
    .option('--cache <dir>', 'cache directory (default: $SIEVE_CACHE, the pipeline\'s `cache`, or ./artifacts)');
}

/** Adds the sharing commands; `verifyLocal` is what `verify` does without --remote. */
export function addSharingCommands(program: Command, verifyLocal: (flags: { cache?: string; repair?: boolean }) => Promise<void>): void {
  transferOptions(program.command('push [pipeline]'))
    .description('upload the objects the lockfile names to a remote (only those it lacks)')
    .action(async (pipeline: string | undefined, flags: TransferFlags) => {
      process.exitCode = await (await sharing()).transfer('push', pipeline, flags);
    });

  transferOptions(program.command('pull [pipeline]'))
    .description('download the objects the lockfile names from a remote, verified, so every node is a cache hit')
    .action(async (pipeline: string | undefined, flags: TransferFlags) => {
      process.exitCode = await (await sharing()).transfer('pull', pipeline, flags);
    });

  program
    .command('export [pipeline]')
    .description('write one bundle file: the pipeline, its lockfile and every object they reference')
    .requiredOption('-o, --output <file>', 'bundle file to write (a tar)')
    .option('--node <id>', 'only the objects of this node and its ancestors')
    .option('--point <id>', 'only the objects of this grid point')
    .option('--cache <dir>', 'cache directory')
    .action(async (pipeline: string | undefined, flags: { output: string; node?: string; point?: string; cache?: string }) => {
      await (await sharing()).exportCommand(pipeline, flags);
    });

  program
    .command('import <bundle>')
    .description('check a bundle entry by entry and add it: objects to the cache, pipeline and lockfile to --to')
    .option('--to <dir>', 'where to write the pipeline and its lockfile', '.')
    .option('--force', 'overwrite a different existing pipeline or lockfile')
    .option('--cache <dir>', "cache directory (default: $SIEVE_CACHE, the bundled pipeline's `cache`, or ./artifacts)")
    .action(async (bundle: string, flags: { to: string; force?: boolean; cache?: string }) => {
      await (await sharing()).importCommand(bundle, flags);
    });

  program
    .command('verify')
    .description('hash every object in the cache (or on a remote with --remote) and report bad ones')
    .option('--cache <dir>', 'cache directory (default: $SIEVE_CACHE or ./artifacts)')
    .option('--repair', 'remove corrupt objects so the next run recomputes them')
    .option('-r, --remote <name|path|s3://bucket/prefix>', 'check a remote instead of the local cache')
    .option('--pipeline <file>', "pipeline whose `remote:` to check (with --remote and no value given there)")
    .action(async (flags: { cache?: string; repair?: boolean; remote?: string | boolean; pipeline?: string }) => {
      if (flags.remote === undefined) return verifyLocal(flags);
      if (flags.repair) throw new UsageError('--repair applies to the local cache only');
      await (await sharing()).verifyRemoteCommand({ ...flags, remote: flags.remote });
    });
}

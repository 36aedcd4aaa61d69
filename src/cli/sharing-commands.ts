// Declares `sieve push`, `pull`, `export`, `import` and `verify [--remote]`: sharing results with a
// team. What they do is in sharing.ts, loaded only when one of them runs.
import { UsageError } from '../runtime/errors.js';
import type { CommandSpec, OptionSpec } from './args.js';
import { CACHE_OPTION } from './defaults.js';
import type { TransferFlags } from './sharing.js';

const sharing = () => import('./sharing.js');

const REMOTE: OptionSpec = { name: 'remote', short: 'r', value: '<name|path|s3://bucket/prefix>', description: '' };

const TRANSFER_OPTIONS: OptionSpec[] = [
  { ...REMOTE, description: "remote to use (default: the pipeline's `remote:`, then default_remote of the user config)" },
  { name: 'node', value: '<id>', description: 'only this node and its ancestors' },
  { name: 'point', value: '<id>', description: 'only this grid point' },
  { name: 'jobs', short: 'j', value: '<n>', default: '8', description: 'objects transferred at once' },
  CACHE_OPTION,
];

/** The sharing commands; `verifyLocal` is what `verify` does without --remote. */
export function sharingCommands(verifyLocal: (flags: { cache?: string; repair?: boolean }) => Promise<void>): CommandSpec[] {
  return [
    {
      name: 'verify', args: [], description: 'hash every object in the cache (or on a remote with --remote) and report bad ones',
      options: [
        { name: 'cache', value: '<dir>', description: 'cache directory (default: $SIEVE_CACHE or artifacts/ at the project root)' },
        { name: 'repair', description: 'remove corrupt objects so the next run recomputes them' },
        { ...REMOTE, description: 'check a remote instead of the local cache' },
        { name: 'pipeline', value: '<file>', description: 'pipeline whose `remote:` to check (with --remote)' },
      ],
      action: async (_args, flags) => {
        const f = flags as { cache?: string; repair?: boolean; remote?: string; pipeline?: string };
        if (f.remote === undefined) return verifyLocal(f);
        if (f.repair) throw new UsageError('--repair applies to the local cache only');
        await (await sharing()).verifyRemoteCommand({ ...f, remote: f.remote });
      },
    },
    {
      name: 'push', args: ['[pipeline]'], description: 'upload the objects the lockfile names to a remote (only those it lacks)',
      options: TRANSFER_OPTIONS,
      action: async (args, flags) => {
        process.exitCode = await (await sharing()).transfer('push', args[0] as string | undefined, flags as TransferFlags);
      },
    },
    {
      name: 'pull', args: ['[pipeline]'], description: 'download the objects the lockfile names from a remote, verified, so every node is a cache hit',
      options: [...TRANSFER_OPTIONS, { name: 'trust', description: "let the remote's results serve every pipeline, not only this one (see `trusted_remotes`)" }],
      action: async (args, flags) => {
        process.exitCode = await (await sharing()).transfer('pull', args[0] as string | undefined, flags as TransferFlags);
      },
    },
    {
      name: 'export', args: ['[pipeline]'], description: 'write one bundle file: the pipeline, its lockfile and every object they reference',
      options: [
        { name: 'output', short: 'o', value: '<file>', required: true, description: 'bundle file to write (a tar)' },
        { name: 'node', value: '<id>', description: 'only the objects of this node and its ancestors' },
        { name: 'point', value: '<id>', description: 'only the objects of this grid point' },
        { name: 'cache', value: '<dir>', description: 'cache directory' },
      ],
      action: async (args, flags) =>
        (await sharing()).exportCommand(args[0] as string | undefined, flags as { output: string; node?: string; point?: string; cache?: string }),
    },
    {
      name: 'import', args: ['<bundle>'], description: 'check a bundle entry by entry and add it: objects to the cache, pipeline and lockfile to --to',
      options: [
        { name: 'to', value: '<dir>', default: '.', description: 'where to write the pipeline and its lockfile' },
        { name: 'force', description: 'overwrite a different existing pipeline or lockfile' },
        { name: 'cache', value: '<dir>', description: "cache directory (default: $SIEVE_CACHE, `cache:` of the user config, or artifacts/ at the project root of --to; never the bundled pipeline's)" },
        { name: 'trust', description: "let the bundle's results serve every pipeline, not only the one it carries" },
      ],
      action: async (args, flags) => (await sharing()).importCommand(args[0] as string, flags as { to: string; force?: boolean; cache?: string; trust?: boolean }),
    },
  ];
}

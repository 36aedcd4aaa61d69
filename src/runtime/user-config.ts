// The user config file: $SIEVE_CONFIG, else $XDG_CONFIG_HOME/sieve/config.yaml or
// ~/.config/sieve/config.yaml. The one place that reads it:
//   remotes:
//     team: { type: s3, bucket: lab-cache, prefix: sieve, endpoint: http://minio:9000, force_path_style: true }
//     nas:  { type: directory, path: /mnt/nas/sieve-cache }
//   default_remote: team
//   trusted_remotes: [team]   # results pulled from these serve every pipeline (see the README's trust model)
//   cache: ~/sieve-cache      # where `sieve import` writes when --cache is not given
//   executor: { type: slurm, partition: gpu }   # what `sieve run` uses when neither --executor nor the pipeline says
// It loads no remote code (remotes/config.ts builds remotes from it), and its YAML parser only
// when the file exists, so `sieve run` pays nothing for a user without one.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './errors.js';
import { yamlParser } from './lazy-yaml.js';
import { parseExecutorSpec, type ExecutorSpec } from './execution/executor-config.js';
import type { Json } from './tensor.js';

export type RemoteSpec = Record<string, Json>;

export interface UserConfig {
  path: string;
  remotes: Record<string, RemoteSpec>;
  defaultRemote?: string;
  /** Names (or descriptions, e.g. s3://bucket/prefix) of remotes whose results every pipeline may use. */
  trustedRemotes: string[];
  /** The user's cache directory (absolute), for commands that must not take it from a file they were sent. */
  cache?: string;
  /** The executor `sieve run` uses when neither --executor nor the pipeline names one. */
  executor?: ExecutorSpec;
}

export function userConfigPath(): string {
  if (process.env.SIEVE_CONFIG) return resolve(process.env.SIEVE_CONFIG);
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'sieve', 'config.yaml');
}

export const expandHome = (p: string): string => (p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p);

/** The user config; an absent file is an empty config, a malformed one a usage error naming the field. */
export async function readUserConfig(path = userConfigPath()): Promise<UserConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return { path, remotes: {}, trustedRemotes: [] };
  }
  const parse = await yamlParser();
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (e) {
    throw new UsageError(`${path}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const data = (parsed ?? {}) as { remotes?: unknown; default_remote?: unknown; trusted_remotes?: unknown; cache?: unknown; executor?: unknown };
  if (typeof data !== 'object' || Array.isArray(data)) throw new UsageError(`${path}: expected a mapping with \`remotes:\` and \`default_remote:\``);
  const remotes = data.remotes ?? {};
  if (typeof remotes !== 'object' || Array.isArray(remotes)) throw new UsageError(`${path}: \`remotes\` must map names to remote settings`);
  if (data.default_remote !== undefined && typeof data.default_remote !== 'string') throw new UsageError(`${path}: \`default_remote\` must be a remote name`);
  const trusted = data.trusted_remotes ?? [];
  if (!Array.isArray(trusted) || trusted.some((t) => typeof t !== 'string')) throw new UsageError(`${path}: \`trusted_remotes\` must be a list of remote names`);
  if (data.cache !== undefined && typeof data.cache !== 'string') throw new UsageError(`${path}: \`cache\` must be a directory path`);
  const cache = typeof data.cache === 'string' ? resolve(dirname(path), expandHome(data.cache)) : undefined;
  const executor = data.executor === undefined || data.executor === null ? undefined : parseExecutorSpec(data.executor, path);
  return {
    path, remotes: remotes as Record<string, RemoteSpec>, defaultRemote: data.default_remote, trustedRemotes: trusted as string[],
    ...(cache ? { cache } : {}), ...(executor ? { executor } : {}),
  };
}

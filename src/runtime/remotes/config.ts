// Which remote a command talks to. In order: `--remote NAME|PATH|s3://bucket/prefix`, the
// pipeline's `remote:` section, then `default_remote` of the user config file (read by
// runtime/user-config.ts: `remotes:` names remote settings, `default_remote:` picks one).
import { isAbsolute, resolve, dirname } from 'node:path';
import { UsageError } from '../errors.js';
import { expandHome, readUserConfig, userConfigPath, type RemoteSpec, type UserConfig } from '../user-config.js';
import { DirectoryRemote } from './directory.js';
import type { Remote } from './remote.js';
import { S3Remote } from './s3.js';

export { readUserConfig, userConfigPath, type RemoteSpec, type UserConfig };

export interface RemoteRequest {
  /** The --remote value. */
  flag?: string;
  /** The pipeline's `remote:` section and the directory its relative paths are resolved against. */
  pipelineRemote?: RemoteSpec;
  pipelineDir?: string;
  /** Where relative --remote paths are resolved (default: the working directory). */
  cwd?: string;
}

export interface ResolvedRemote {
  remote: Remote;
  /** Where the choice came from, for messages ("--remote", "pipeline", "config team"). */
  origin: string;
  /** Its name in the user config, when it has one. */
  name?: string;
}

/** Builds a remote from its settings; relative directory paths are taken from `baseDir`. */
export function remoteFromSpec(spec: RemoteSpec, baseDir: string, where: string): Remote {
  const str = (k: string): string | undefined => {
    const v = spec[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new UsageError(`${where}: \`${k}\` must be a string, got ${JSON.stringify(v)}`);
    return v;
  };
  const num = (k: string): number | undefined => {
    const v = spec[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !(v > 0)) throw new UsageError(`${where}: \`${k}\` must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  const allowed = (keys: string[]): void => {
    const extra = Object.keys(spec).filter((k) => !keys.includes(k));
    if (extra.length) throw new UsageError(`${where}: unknown setting(s) ${extra.join(', ')} (allowed: ${keys.join(', ')})`);
  };
  const type = str('type');
  if (type === 'directory') {
    allowed(['type', 'path']);
    const path = str('path');
    if (!path) throw new UsageError(`${where}: a directory remote needs \`path\``);
    const p = expandHome(path);
    return new DirectoryRemote(isAbsolute(p) ? p : resolve(baseDir, p));
  }
  if (type === 's3') {
    allowed(['type', 'bucket', 'prefix', 'endpoint', 'region', 'force_path_style', 'part_size_mb', 'queue_size', 'profile', 'max_attempts']);
    const bucket = str('bucket');
    if (!bucket) throw new UsageError(`${where}: an s3 remote needs \`bucket\``);
    const fps = spec.force_path_style;
    if (fps !== undefined && typeof fps !== 'boolean') throw new UsageError(`${where}: \`force_path_style\` must be true or false`);
    const partMb = num('part_size_mb');
    if (partMb !== undefined && partMb < 5) throw new UsageError(`${where}: \`part_size_mb\` must be at least 5 (the S3 minimum part size), got ${partMb}`);
    return new S3Remote({
      bucket, prefix: str('prefix'), endpoint: str('endpoint') ?? envEndpoint(), region: str('region'),
      forcePathStyle: fps as boolean | undefined, partSize: partMb ? Math.round(partMb * 1024 * 1024) : undefined,
      queueSize: num('queue_size'), profile: str('profile'), maxAttempts: num('max_attempts'),
    });
  }
  throw new UsageError(`${where}: unknown remote type ${JSON.stringify(spec.type ?? null)} (expected "directory" or "s3")`);
}

function envEndpoint(): string | undefined {
  return process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined;
}

/** `s3://bucket/prefix` → an S3 remote (endpoint from $AWS_ENDPOINT_URL_S3 / $AWS_ENDPOINT_URL). */
export function parseS3Url(url: string): S3Remote {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new UsageError(`--remote ${url}: expected s3://bucket/prefix`);
  return new S3Remote({ bucket: m[1], prefix: m[2], endpoint: envEndpoint() });
}

export async function resolveRemote(req: RemoteRequest): Promise<ResolvedRemote> {
  const cwd = req.cwd ?? process.cwd();
  const lazyConfig = (() => {
    let cfg: Promise<UserConfig> | undefined;
    return () => (cfg ??= readUserConfig());
  })();
  const named = async (name: string, origin: string): Promise<ResolvedRemote | undefined> => {
    const cfg = await lazyConfig();
    const spec = cfg.remotes[name];
    if (!spec) return undefined;
    return { remote: remoteFromSpec(spec, dirname(cfg.path), `${cfg.path}: remotes.${name}`), origin, name };
  };
  if (req.flag) {
    if (req.flag.startsWith('s3://')) return { remote: parseS3Url(req.flag), origin: '--remote' };
    const byName = /^[A-Za-z0-9_-]+$/.test(req.flag) ? await named(req.flag, `remote "${req.flag}" of the user config`) : undefined;
    if (byName) return byName;
    return { remote: new DirectoryRemote(resolve(cwd, expandHome(req.flag))), origin: '--remote' };
  }
  if (req.pipelineRemote) {
    const ref = req.pipelineRemote.name;
    if (typeof ref === 'string' && Object.keys(req.pipelineRemote).length === 1) {
      const r = await named(ref, `remote "${ref}" (named by the pipeline)`);
      if (!r) throw new UsageError(`the pipeline names remote "${ref}", which ${(await lazyConfig()).path} does not define`);
      return r;
    }
    return { remote: remoteFromSpec(req.pipelineRemote, req.pipelineDir ?? cwd, 'pipeline `remote:`'), origin: 'pipeline' };
  }
  const cfg = await lazyConfig();
  if (cfg.defaultRemote) {
    const r = await named(cfg.defaultRemote, `default remote "${cfg.defaultRemote}"`);
    if (!r) throw new UsageError(`${cfg.path}: default_remote "${cfg.defaultRemote}" is not under \`remotes:\``);
    return r;
  }
  throw new UsageError(
    `no remote: pass --remote NAME|PATH|s3://bucket/prefix, add \`remote:\` to the pipeline, or set default_remote in ${cfg.path}`,
  );
}

// Defaults every command agrees on: the pipeline and the store (kept apart from planning, so that
// commands which do not plan, such as the sharing ones, need not load node types). Every command
// opens its store with `commandStore`.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Store } from '../runtime/store/store.js';
import type { OptionSpec } from './args.js';

export const DEFAULT_PIPELINE = 'pipelines/quickstart.yaml';

export interface CacheFlags {
  cache?: string;
}

/** The `--cache` option of the commands that use a pipeline's cache. */
export const CACHE_OPTION: OptionSpec = {
  name: 'cache', value: '<dir>',
  description: "cache directory (default: $SIEVE_CACHE, the pipeline's `cache`, or artifacts/ at the pipeline's project root)",
};

/**
 * The project a pipeline belongs to: the nearest ancestor of its directory (itself included) that
 * holds `.git` or `package.json`, else that directory. The default cache (`artifacts/`) and the
 * results (`results/`) live there, wherever the command runs from.
 */
export function projectRoot(dir: string): string {
  const start = resolve(dir);
  for (let d = start; ; d = dirname(d)) {
    if (existsSync(join(d, '.git')) || existsSync(join(d, 'package.json'))) return d;
    if (dirname(d) === d) return start;
  }
}

/**
 * --cache, then $SIEVE_CACHE, then the pipeline's `cache` (relative to its file), then `artifacts/`
 * at the pipeline's project root (without a pipeline: the working directory's project root).
 */
function resolveCacheDir(flags: CacheFlags, file?: { cache?: string; baseDir: string }): string {
  if (flags.cache) return resolve(flags.cache);
  if (process.env.SIEVE_CACHE) return resolve(process.env.SIEVE_CACHE);
  if (file?.cache) return resolve(file.baseDir, file.cache);
  return join(projectRoot(file?.baseDir ?? process.cwd()), 'artifacts');
}

/**
 * The store a command works on: --cache, then $SIEVE_CACHE, then `site.cache` (the pipeline's
 * `cache:`, relative to `site.baseDir`; for `import`, the user config's), then `artifacts/` at the
 * project root of `site.baseDir` (without a site: of the working directory).
 */
export function commandStore(flags: CacheFlags, site?: { cache?: string; baseDir: string }): Store {
  return new Store(resolveCacheDir(flags, site));
}

/** Where `sieve results` writes `<name>.csv` / `.json` by default: `results/` at the project root. */
export function resultsDir(pipelineDir: string): string {
  return join(projectRoot(pipelineDir), 'results');
}

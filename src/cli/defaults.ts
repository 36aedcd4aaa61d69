// Defaults every command agrees on: the pipeline and the cache directory (kept apart from planning,
// so that commands which do not plan, such as the sharing ones, need not load node types).
import { resolve } from 'node:path';
import type { OptionSpec } from './args.js';

export const DEFAULT_PIPELINE = 'pipelines/quickstart.yaml';

export interface CacheFlags {
  cache?: string;
}

/** The `--cache` option of the commands that use a pipeline's cache. */
export const CACHE_OPTION: OptionSpec = {
  name: 'cache', value: '<dir>', description: "cache directory (default: $SIEVE_CACHE, the pipeline's `cache`, or ./artifacts)",
};

/** --cache, then $SIEVE_CACHE, then the pipeline's `cache` (relative to its file), then ./artifacts. */
export function resolveCacheDir(flags: CacheFlags, file?: { cache?: string; baseDir: string }): string {
  if (flags.cache) return resolve(flags.cache);
  if (process.env.SIEVE_CACHE) return resolve(process.env.SIEVE_CACHE);
  if (file?.cache) return resolve(file.baseDir, file.cache);
  return resolve('artifacts');
}

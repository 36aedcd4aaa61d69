// URLs of Sieve's own modules, for code that must name one for another thread or by URL (worker
// threads, built-in node types). This file sits at the root of the tree it names, and so does the
// CLI bundle (dist/sieve.mjs), so the same relative paths hold from src/ (tsx, vitest), from dist/
// (tsc) and from inside the bundle.
const root = new URL('./', import.meta.url);
const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** URL of one of Sieve's modules, by its path below src/ without extension (e.g. `runtime/worker`). */
export function ownModuleUrl(path: string): string {
  return new URL(`${path}${extension}`, root).href;
}

/** Whether Sieve runs from its TypeScript sources (tests, tsx), where worker threads need tsx too. */
export const runningFromSources = extension === '.ts';

/** The path below src/ of one of Sieve's own modules (`ownModuleUrl`'s inverse), or undefined for another URL. */
export function ownModulePath(url: string): string | undefined {
  if (!url.startsWith(root.href)) return undefined;
  return url.slice(root.href.length).replace(/\.(ts|js)$/, '');
}

/** The `sieve` command's file (bin/sieve.cjs), which a job on another machine of a shared filesystem runs. */
export function sieveBinPath(): string {
  return decodeURIComponent(new URL('../bin/sieve.cjs', root).pathname);
}

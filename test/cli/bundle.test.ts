// The shape of the CLI bundle (scripts/bundle.mjs) that start-up and correctness rely on: the entry
// loads no other file of the bundle before it runs, and every module of Sieve is in exactly one
// file, so that a lazily loaded command shares the entry's classes and state (an error class
// defined twice would break `instanceof`, and with it exit codes).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, assertCliBuilt } from '../helpers/runtime.js';

const dist = join(REPO_ROOT, 'dist');

beforeAll(assertCliBuilt);

/** The static imports of a bundle file that name other bundle files. */
function staticBundleImports(file: string): string[] {
  const text = readFileSync(join(dist, file), 'utf8');
  return [...text.matchAll(/(?:^|[;}\n])\s*(?:import|export)\s*(?:[\w$*{},\s]*?from\s*)?["'](\.\/[^"']+\.mjs)["']/g)].map((m) => m[1]);
}

describe('the CLI bundle', () => {
  const files = readdirSync(dist).filter((f) => /^(sieve|chunk-.*)\.mjs$/.test(f));

  it('has an entry that imports no other file of the bundle statically', () => {
    expect(files).toContain('sieve.mjs');
    expect(staticBundleImports('sieve.mjs')).toEqual([]);
  });

  it('holds each of Sieve\'s modules in exactly one file', () => {
    const holder = new Map<string, string[]>();
    for (const file of files) {
      const map = JSON.parse(readFileSync(join(dist, `${file}.map`), 'utf8')) as { sources: string[] };
      for (const source of map.sources.filter((s) => s.includes('src/'))) holder.set(source, [...(holder.get(source) ?? []), file]);
    }
    expect(holder.size).toBeGreaterThan(50);
    expect([...holder].filter(([, where]) => where.length > 1)).toEqual([]);
    // The lazily loaded chunks take what they share with the entry from it.
    expect(files.filter((f) => f !== 'sieve.mjs').some((f) => staticBundleImports(f).includes('./sieve.mjs'))).toBe(true);
  });
});

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// The suite's own temp dir: workers and the CLI processes they start inherit $TMPDIR, so every temp
// folder a test makes lands here, and test/helpers/tmp-check.ts fails the run if a sieve-* one is left.
// (Created once: the config is evaluated again in each worker, which must reuse the parent's.)
// Downloads (`load`, `embed`) go to a folder in it too, never to the user's ~/.cache.
if (!process.env.SIEVE_TEST_TMPDIR) {
  process.env.SIEVE_TEST_TMPDIR = mkdtempSync(join(tmpdir(), 'sieve-vitest-'));
  process.env.TMPDIR = process.env.SIEVE_TEST_TMPDIR;
  process.env.SIEVE_DOWNLOAD_DIR = join(process.env.SIEVE_TEST_TMPDIR, 'downloads');
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/helpers/tmp-check.ts'],
  },
});

// vitest globalSetup: the suite runs with a $TMPDIR of its own (set in vitest.config.ts, inherited by
// every worker and CLI child process), so what the tests leave in the temp dir can be counted without
// counting other processes' files. At teardown that folder must be empty: anything left fails the run.
import { readdirSync, rmSync } from 'node:fs';

export function setup(): () => void {
  const dir = process.env.SIEVE_TEST_TMPDIR;
  return () => {
    if (!dir) return;
    const left = readdirSync(dir);
    rmSync(dir, { recursive: true, force: true });
    if (left.length > 0) {
      // vitest reports an error thrown here but still exits 0: set the exit code as well.
      process.exitCode = 1;
      throw new Error(`the tests left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in their temp dir ${dir}: ${left.sort().join(', ')}`);
    }
  };
}

// vitest globalSetup: the suite runs with a $TMPDIR of its own (set in vitest.config.ts, inherited by
// every worker and CLI child process), so what the tests leave in the temp dir can be counted without
// counting other processes' files. At teardown no `sieve-*` folder (what tests and Sieve make) may be
// left: any fails the run. Other tools' files there (onnxruntime's mat-debug-*.log and .ses, tsx's
// cache) are not the tests' to remove; the whole folder goes at the end.
import { readdirSync, rmSync } from 'node:fs';

export function setup(): () => void {
  const dir = process.env.SIEVE_TEST_TMPDIR;
  return () => {
    if (!dir) return;
    const left = readdirSync(dir).filter((n) => n.startsWith('sieve-'));
    rmSync(dir, { recursive: true, force: true });
    if (left.length > 0) {
      // vitest reports an error thrown here but still exits 0: set the exit code as well.
      process.exitCode = 1;
      throw new Error(`the tests left ${left.length} folder(s) in their temp dir ${dir}: ${left.sort().join(', ')}`);
    }
  };
}

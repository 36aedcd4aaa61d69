// Temporary folders for tests: every folder made here is removed by `removeTemp` (call it from
// afterAll or afterEach). The suite runs with its own $TMPDIR (vitest.config.ts) and fails when
// anything is left in it (test/helpers/tmp-check.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A new empty folder under the system temp dir, registered for `removeTemp`. */
export function tempDir(prefix = 'sieve-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every folder `tempDir` made in this test file so far. */
export function removeTemp(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

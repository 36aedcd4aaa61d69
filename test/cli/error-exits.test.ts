// Errors of the sharing and maintenance commands are clear, with the right exit code and never a
// stack trace: an export to a missing directory, a cache that does not exist, a corrupt object
// under `show` and `results`, a failing S3 command (and no AWS SDK Node-version notice).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/runtime/store/store.js';
import { assertCliBuilt, lockfileOf, linearPipeline, makeTempDir, removeTempDirs, runCli, runInProcess, writePipeline, type CliResult } from '../helpers/runtime.js';

beforeAll(assertCliBuilt);
afterAll(removeTempDirs);

const STACK = /^\s+at .+[:(]\d+/m;

function expectClean(r: CliResult, code: number, message: RegExp): void {
  expect(r.stderr + r.stdout).toMatch(message);
  expect(r.exitCode, r.stderr).toBe(code);
  expect(r.stderr).not.toMatch(STACK);
  expect(r.stderr).not.toMatch(/Emitted 'error' event|node:internal|NodeVersionSupportWarning/);
}

describe('clear errors, no stack traces', () => {
  it('export to a directory that does not exist, verify and gc of a cache that does not exist', async () => {
    const dir = await makeTempDir('sieve-errors-');
    const path = await writePipeline(dir, linearPipeline());
    await runInProcess(path, { cache: join(dir, 'cache') });
    expectClean(await runCli(['export', 'pipeline.yaml', '--cache', 'cache', '-o', 'no/such/dir/b.tar'], { cwd: dir }), 1, /error: bundle .*no\/such\/dir\/b\.tar: cannot write it: .*no\/such\/dir does not exist/);
    expectClean(await runCli(['verify', '--cache', 'no/such/dir'], { cwd: dir }), 2, /error: no cache at .*no\/such\/dir: the directory does not exist/);
    expectClean(await runCli(['gc', '--cache', 'no/such/dir', '--dry-run'], { cwd: dir }), 2, /error: no cache at .*no\/such\/dir/);
    const ok = await runCli(['verify', '--cache', 'cache'], { cwd: dir });
    expect(ok.exitCode).toBe(0);
  });

  it('show and results name a corrupt object and exit 1', async () => {
    const dir = await makeTempDir('sieve-errors-corrupt-');
    const path = await writePipeline(dir, linearPipeline());
    await runInProcess(path, { cache: join(dir, 'cache') });
    const m = (await lockfileOf(path)).points.default.nodes.m.outputs.metrics;
    const file = new Store(join(dir, 'cache')).objectPath(m.hash);
    const bytes = await readFile(file);
    bytes[0] ^= 1;
    await writeFile(file, bytes);
    expectClean(await runCli(['show', 'm', 'pipeline.yaml', '--cache', 'cache'], { cwd: dir }), 1, /metrics: object [0-9a-f]{12} at .* is corrupt: content does not match its hash/);
    await writeFile(file, bytes.subarray(0, 3));
    const results = await runCli(['results', 'pipeline.yaml', '--cache', 'cache', '-o', 'out'], { cwd: dir });
    expectClean(results, 1, /cannot read the metrics of m\.metrics at default: object [0-9a-f]{12} at .* is corrupt: (size 3 but \d+ expected|missing)/);
    expect(results.stdout).not.toContain('no metrics yet');
    // With --json the table stays parseable on stdout; the corruption is named on stderr, exit 1.
    const json = await runCli(['results', 'pipeline.yaml', '--cache', 'cache', '-o', 'out', '--json'], { cwd: dir });
    expectClean(json, 1, /cannot read the metrics of m\.metrics at default/);
    expect(json.stderr).toMatch(/cannot read the metrics of m\.metrics/);
    expect(() => JSON.parse(json.stdout)).not.toThrow();
  });

  it('an S3 command that fails says why, without the AWS SDK Node-version notice', async () => {
    const dir = await makeTempDir('sieve-errors-s3-');
    const r = await runCli(['verify', '--remote', 's3://no-bucket/x', '--cache', dir], {
      cwd: dir,
      env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_MAX_ATTEMPTS: '1' },
    });
    expectClean(r, 1, /error: .*no-bucket/);
  });
});

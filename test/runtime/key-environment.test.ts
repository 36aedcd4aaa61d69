// A node type's key environment (`keyEnvironment`): resolved before the key, part of it, kept in
// the lockfile, handed to `run`, and named by `status` when it changes; status compares the
// recomputed outputs with the lockfile's within float tolerance.
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { lockfilePath, readLockfile } from '../../src/runtime/results/lockfile.js';
import { pipelineStatus } from '../../src/runtime/results/status.js';
import { REPO_ROOT, lockfileOf, makeTempDir, planPipeline, removeTempDirs, runInProcess, statuses, writePipeline, TEST_PLUGIN } from '../helpers/runtime.js';

const ENV_PLUGIN = join(REPO_ROOT, 'test/fixtures/env-nodes.mjs');

afterAll(removeTempDirs);
afterEach(() => {
  delete process.env.SIEVE_TEST_BACKEND;
});

async function setup(): Promise<{ pipeline: string; cache: string }> {
  const dir = await makeTempDir('sieve-keyenv-');
  const pipeline = await writePipeline(dir, [
    'name: keyenv',
    `plugins: [${JSON.stringify(ENV_PLUGIN)}, ${JSON.stringify(TEST_PLUGIN)}]`,
    'nodes:',
    '  compute: {type: test-backend}',
    '  plain: {type: test-source}',
  ].join('\n'));
  return { pipeline, cache: join(dir, 'cache') };
}

async function status(pipeline: string, cache: string) {
  const { Store } = await import('../../src/runtime/store/store.js');
  const lines = await pipelineStatus(await planPipeline(pipeline), new Store(cache), await readLockfile(lockfilePath(pipeline)));
  return Object.fromEntries(lines.map((l) => [l.nodeId, l]));
}

describe('key environment', () => {
  it('joins the key and the lockfile, reaches run, and status names what changed', async () => {
    const { pipeline, cache } = await setup();
    const first = await runInProcess(pipeline, { cache });
    expect(first.result.summary.ok).toBe(true);
    const lock = await lockfileOf(pipeline);
    const rec = lock.points.default.nodes.compute;
    expect(rec.environment).toEqual({ backend: 'wasm', backend_version: '1' });
    // Node types without one keep their keys and records as before.
    expect('environment' in lock.points.default.nodes.plain).toBe(false);
    expect((await status(pipeline, cache)).compute).toMatchObject({ state: 'up-to-date', reasons: [] });

    process.env.SIEVE_TEST_BACKEND = 'tfjs-node';
    const stale = (await status(pipeline, cache)).compute;
    expect(stale.state).toBe('stale');
    expect(stale.reasons).toContain('backend changed: wasm → tfjs-node');
    expect(stale.key).not.toBe(rec.key);
    expect((await status(pipeline, cache)).plain.state).toBe('up-to-date');

    // Recompute on the new backend without updating the lockfile: the node is cached under its new
    // key, and status compares its outputs with the lockfile's.
    const second = await runInProcess(pipeline, { cache, lockfile: false });
    expect(statuses(second.events)).toMatchObject({ compute: 'ran', plain: 'cached' });
    const within = (await status(pipeline, cache)).compute;
    expect(within.state).toBe('up-to-date');
    expect(within.reasons).toContain('backend changed: wasm → tfjs-node');
    expect(within.reasons.find((r) => r.startsWith('output x'))).toMatch(/^output x equal within tolerance \(max abs diff 2\.\de-7\) to the lockfile's$/);

    process.env.SIEVE_TEST_BACKEND = 'cpu';
    await runInProcess(pipeline, { cache, lockfile: false });
    const different = (await status(pipeline, cache)).compute;
    expect(different.reasons).toContain('backend changed: wasm → cpu');
    expect(different.reasons.find((r) => r.startsWith('output x'))).toMatch(/^output x different \(4 of 4 values outside tolerance, max abs diff 0\.50\) to the lockfile's$/);
  }, 60_000);
});

// Execution-only params (declared by a node type's `executionOnly`) are left out of the key: a run
// that changes one is all cache hits, `status` calls nothing stale, and the outputs are the same.
import { afterEach, describe, expect, it } from 'vitest';
import { lockfilePath, readLockfile } from '../../src/runtime/results/lockfile.js';
import { pipelineStatus } from '../../src/runtime/results/status.js';
import {
  PLUGINS_LINE, clearLog, endOf, executionCounts, makeTempDir, removeTempDirs, runInProcess, statuses, writePipeline,
} from '../helpers/runtime.js';
import { join } from 'node:path';

afterEach(removeTempDirs);

const pipeline = (threads: number, factor = 3): string => [
  'name: xonly', PLUGINS_LINE, 'nodes:',
  '  src: { type: test-source, params: { n: 7, value: 1, step: 1 } }',
  `  work: { type: test-threads, inputs: { x: src }, params: { threads: ${threads}, factor: ${factor} } }`,
  '  m: { type: test-metrics, inputs: { x: work } }', '',
].join('\n');

describe('execution-only params', () => {
  it('changing one keeps the key: every node is a cache hit and status says up to date', async () => {
    const dir = await makeTempDir();
    const cache = join(dir, 'cache');
    const log = join(dir, 'runs.log');
    const file = await writePipeline(dir, pipeline(1));
    const first = await runInProcess(file, { cache, log });
    expect(statuses(first.events)).toEqual({ src: 'ran', work: 'ran', m: 'ran' });

    // The same outputs, computed for real with another value: the key would not have told them apart.
    const fresh = await runInProcess(await writePipeline(dir, pipeline(4), 'fresh.yaml'), { cache: join(dir, 'other-cache'), log });
    expect(endOf(fresh.events, 'work').record!.outputs.y.hash).toBe(endOf(first.events, 'work').record!.outputs.y.hash);
    expect(endOf(fresh.events, 'work').key).toBe(endOf(first.events, 'work').key);

    await writePipeline(dir, pipeline(4));
    await clearLog(log);
    const second = await runInProcess(file, { cache, log });
    expect(statuses(second.events)).toEqual({ src: 'cached', work: 'cached', m: 'cached' });
    expect(await executionCounts(log)).toEqual({});
    const lines = await pipelineStatus(second.plan, second.store, await readLockfile(lockfilePath(file)));
    expect(lines.every((l) => l.state === 'up-to-date')).toBe(true);

    // A param that is part of the key still reruns the node.
    await writePipeline(dir, pipeline(4, 5));
    const third = await runInProcess(file, { cache, log });
    expect(statuses(third.events).work).toBe('ran');
  });
});

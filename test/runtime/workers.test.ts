// CPU-bound nodes (those that declare resource hints) run in worker threads: the main thread stays responsive
// while they compute, and independent ones run at the same time with jobs > 1.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeArtifact } from '../../src/runtime/store/artifact.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import {
  PLUGINS_LINE, endOf, executionCounts, makeTempDir, removeTempDirs, runInProcess, writePipeline,
} from '../helpers/runtime.js';

afterEach(removeTempDirs);

const SPIN_MS = 1000;

function spinPipeline(spinners: string[]): string {
  return [
    'name: spin',
    PLUGINS_LINE,
    'nodes:',
    '  src: { type: test-source, params: { n: 3, value: 1 } }',
    ...spinners.map((id) => `  ${id}: { type: test-spin, inputs: { x: src }, params: { ms: ${SPIN_MS}, tag: ${id} } }`),
    '',
  ].join('\n');
}

async function setup(yaml: string) {
  const dir = await makeTempDir();
  return { dir, pipeline: await writePipeline(dir, yaml), cache: join(dir, 'cache'), log: join(dir, 'runs.log') };
}

describe('worker threads', () => {
  it('the main thread stays responsive while a CPU-bound node spins', async () => {
    const t = await setup(spinPipeline(['spinner']));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    let run;
    try {
      run = await runInProcess(t.pipeline, { cache: t.cache, log: t.log, jobs: 1, lockfile: false });
    } finally {
      clearInterval(timer);
    }
    expect(run.result.summary.ok).toBe(true);
    expect(await executionCounts(t.log)).toEqual({ src: 1, spinner: 1 });
    // A blocked event loop would tick about once; a free one ~100 times during a 1 s spin.
    expect(ticks).toBeGreaterThan(30);
    // Progress reported from inside the worker reached the main thread while it ran.
    expect(run.events.some((e) => e.event === 'node-progress' && e.node.nodeId === 'spinner')).toBe(true);
    const y = decodeArtifact({ kind: 'tensor' }, await run.store.read(endOf(run.events, 'spinner').record!.outputs.y)) as Tensor;
    expect(Array.from(y.data as Float32Array)).toEqual([2, 2, 2]);
  });

  it('two independent spin nodes overlap in time with jobs 2', async () => {
    const single = await setup(spinPipeline(['one']));
    const t1 = performance.now();
    const alone = await runInProcess(single.pipeline, { cache: single.cache, jobs: 2, lockfile: false });
    expect(alone.result.summary.failures).toEqual([]);
    const singleMs = performance.now() - t1;

    const pair = await setup(spinPipeline(['left', 'right']));
    const t2 = performance.now();
    const run = await runInProcess(pair.pipeline, { cache: pair.cache, log: pair.log, jobs: 2, lockfile: false });
    const pairMs = performance.now() - t2;
    expect(run.result.summary.ok).toBe(true);
    expect(await executionCounts(pair.log)).toEqual({ src: 1, left: 1, right: 1 });

    // Sequential execution would take about twice as long as one spin.
    expect(pairMs).toBeLessThan(1.8 * singleMs);
    // Both started before either finished: their executions overlap.
    const spinEvents = run.events.filter((e) => (e.event === 'node-start' || e.event === 'node-end') && e.node.nodeId !== 'src');
    expect(spinEvents.map((e) => e.event)).toEqual(['node-start', 'node-start', 'node-end', 'node-end']);
  });
});

// Incremental runs: a param change reruns only that node and its descendants, a rerun that
// reproduces identical bytes stops there (early cutoff), and keys do not depend on where the
// pipeline or the cache lives.
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  PLUGINS_LINE, clearLog, endOf, executionCounts, lockfileOf, makeTempDir, removeTempDirs, runInProcess,
  statuses, writePipeline,
} from '../helpers/runtime.js';

afterEach(removeTempDirs);

// src → scaled → m, plus an independent branch other → otherScaled.
const PIPELINE = [
  'name: incremental',
  'seed: 11',
  PLUGINS_LINE,
  'nodes:',
  '  src: { type: test-source, params: { n: 5, value: 1, step: 1, jitter: 0.5 } }',
  '  scaled: { type: test-scale, inputs: { x: src }, params: { factor: 3 } }',
  '  m: { type: test-metrics, inputs: { x: scaled } }',
  '  other: { type: test-source, seed: 3, params: { n: 2, value: 4 } }',
  '  otherScaled: { type: test-scale, inputs: { x: other } }',
  '',
].join('\n');

async function setup() {
  const dir = await makeTempDir();
  return { dir, pipeline: await writePipeline(dir, PIPELINE), cache: join(dir, 'cache'), log: join(dir, 'runs.log') };
}

describe('incremental reruns', () => {
  it('a param change reruns only that node and its descendants', async () => {
    const t = await setup();
    const first = await runInProcess(t.pipeline, { cache: t.cache, log: t.log });
    expect(await executionCounts(t.log)).toEqual({ src: 1, scaled: 1, m: 1, other: 1, otherScaled: 1 });
    await clearLog(t.log);

    const second = await runInProcess(t.pipeline, { cache: t.cache, log: t.log, overrides: ['scaled.factor=5'] });
    expect(await executionCounts(t.log)).toEqual({ scaled: 1, m: 1 });
    expect(statuses(second.events)).toEqual({ src: 'cached', scaled: 'ran', m: 'ran', other: 'cached', otherScaled: 'cached' });
    expect(endOf(second.events, 'src').key).toBe(endOf(first.events, 'src').key);
    expect(endOf(second.events, 'scaled').key).not.toBe(endOf(first.events, 'scaled').key);

    // Back to the original value: everything is in the cache.
    await clearLog(t.log);
    const third = await runInProcess(t.pipeline, { cache: t.cache, log: t.log });
    expect(await executionCounts(t.log)).toEqual({});
    expect(new Set(Object.values(statuses(third.events)))).toEqual(new Set(['cached']));
  });

  it('early cutoff: a param that does not change the output reruns the node, and downstream stays cached', async () => {
    const t = await setup();
    const first = await runInProcess(t.pipeline, { cache: t.cache, log: t.log });
    await clearLog(t.log);

    const second = await runInProcess(t.pipeline, { cache: t.cache, log: t.log, overrides: ['scaled.label=renamed'] });
    expect(await executionCounts(t.log)).toEqual({ scaled: 1 });
    expect(statuses(second.events)).toEqual({ src: 'cached', scaled: 'ran', m: 'cached', other: 'cached', otherScaled: 'cached' });
    expect(endOf(second.events, 'scaled').key).not.toBe(endOf(first.events, 'scaled').key);
    expect(endOf(second.events, 'scaled').outputs).toEqual(endOf(first.events, 'scaled').outputs);
    expect(endOf(second.events, 'm').key).toBe(endOf(first.events, 'm').key);
  });
});

describe('determinism of keys and hashes', () => {
  /** node id → key and output hashes, from the lockfile (single point). */
  async function fingerprint(pipeline: string): Promise<Record<string, { key: string; outputs: Record<string, string> }>> {
    const lock = await lockfileOf(pipeline);
    const nodes = Object.values(lock.points)[0].nodes; // the only point: "default", or named by -p
    return Object.fromEntries(
      Object.entries(nodes).map(([id, r]) => [id, { key: r.key, outputs: Object.fromEntries(Object.entries(r.outputs).map(([p, o]) => [p, o.hash])) }]),
    );
  }

  it('the same pipeline in two directories with two fresh caches gives identical lockfile keys and hashes', async () => {
    const a = await setup();
    const otherDir = join(await makeTempDir('sieve-test-elsewhere-'), 'nested', 'dir');
    await mkdir(otherDir, { recursive: true });
    const copied = join(otherDir, 'copy.yaml');
    await copyFile(a.pipeline, copied);

    await runInProcess(a.pipeline, { cache: a.cache, log: a.log });
    await runInProcess(copied, { cache: join(otherDir, 'another-cache'), log: a.log, jobs: 1 });
    const fa = await fingerprint(a.pipeline);
    const fb = await fingerprint(copied);
    expect(Object.keys(fa).sort()).toEqual(['m', 'other', 'otherScaled', 'scaled', 'src']);
    expect(fb).toEqual(fa);
    // Both caches really computed everything (nothing was shared).
    expect(await executionCounts(a.log)).toEqual({ src: 2, scaled: 2, m: 2, other: 2, otherScaled: 2 });

    // Another pipeline seed: every node that takes it gets a new key, and the jittered source new
    // bytes; `other` has its own node-level seed, so it and its consumer keep theirs.
    const reseeded = join(otherDir, 'reseeded.yaml');
    await copyFile(a.pipeline, reseeded);
    await runInProcess(reseeded, { cache: join(otherDir, 'another-cache'), log: a.log, overrides: ['seed=12'] });
    const fc = await fingerprint(reseeded);
    for (const id of ['src', 'scaled', 'm']) expect(fc[id].key).not.toBe(fa[id].key);
    expect(fc.src.outputs.x).not.toBe(fa.src.outputs.x);
    expect(fc.other).toEqual(fa.other);
    expect(fc.otherScaled.key).not.toBe(fa.otherScaled.key); // it takes the pipeline seed itself
    expect(fc.otherScaled.outputs).toEqual(fa.otherScaled.outputs); // but its output does not use it
  });
});

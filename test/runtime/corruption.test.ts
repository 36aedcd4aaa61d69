// Corrupted objects are detected (by size on a cache hit, by hash when a node reads them) and their
// producer is recomputed; `sieve verify` finds them and `--repair` removes them.
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeArtifact } from '../../src/runtime/store/artifact.js';
import {
  PLUGINS_LINE, assertCliBuilt, endOf, executionCounts, linearPipeline, makeTempDir, objectFiles, objectPath,
  removeTempDirs, runCli, runInProcess, statuses, warnings, writePipeline, clearLog,
} from '../helpers/runtime.js';

afterEach(removeTempDirs);

/** Flips one byte in the middle of a file, keeping its size. */
async function flipByte(path: string): Promise<void> {
  const bytes = await readFile(path);
  bytes[bytes.length - 3] ^= 0xff;
  await writeFile(path, bytes);
}

async function setup(yaml = linearPipeline()) {
  const dir = await makeTempDir();
  const pipeline = await writePipeline(dir, yaml);
  return { dir, pipeline, cache: join(dir, 'cache'), log: join(dir, 'runs.log') };
}

// src = [1, 2, 3, 4], scaled = 3 * src, m.sum = 30 (+ offset).
async function metricsSum(store: { read(r: { hash: string; size: number }): Promise<Uint8Array> }, ref: { hash: string; size: number }) {
  return (decodeArtifact({ kind: 'json' }, await store.read(ref)) as { sum: number }).sum;
}

describe('corrupted objects', () => {
  it('a truncated object is caught by its size on the next run, and its producer recomputed', async () => {
    const t = await setup();
    const first = await runInProcess(t.pipeline, { cache: t.cache, log: t.log });
    const srcOut = endOf(first.events, 'src').record!.outputs.x;
    await truncate(objectPath(t.cache, srcOut.hash), srcOut.size - 5);
    await clearLog(t.log);

    const second = await runInProcess(t.pipeline, { cache: t.cache, log: t.log });
    expect(statuses(second.events)).toEqual({ src: 'ran', scaled: 'cached', m: 'cached' });
    expect(await executionCounts(t.log)).toEqual({ src: 1 });
    expect(warnings(second.events)).toEqual([{ nodeId: 'src', message: expect.stringMatching(/missing or truncated/) }]);
    // Same bytes again: the object is whole and downstream keys are unchanged.
    expect(endOf(second.events, 'src').record!.outputs.x.hash).toBe(srcOut.hash);
    expect((await readFile(objectPath(t.cache, srcOut.hash))).byteLength).toBe(srcOut.size);
    expect(await metricsSum(second.store, endOf(second.events, 'm').record!.outputs.metrics)).toBe(30);
  });

  // A flipped byte keeps the size, so only a reader hashing the bytes notices. Changing the
  // downstream param forces `scaled` to run and read the corrupt `src` output. jobs 1 also checks
  // that recomputing the producer does not wait for the concurrency slot the reader holds.
  for (const jobs of [1, 2]) {
    it(`a flipped byte is caught when a downstream node reads it, and the producer recomputed (jobs ${jobs})`, async () => {
      const t = await setup();
      const first = await runInProcess(t.pipeline, { cache: t.cache, log: t.log, jobs });
      const srcOut = endOf(first.events, 'src').record!.outputs.x;
      await flipByte(objectPath(t.cache, srcOut.hash));
      await clearLog(t.log);

      const second = await runInProcess(t.pipeline, { cache: t.cache, log: t.log, jobs, overrides: ['scaled.factor=5'] });
      expect(second.result.summary.ok).toBe(true);
      expect(await executionCounts(t.log)).toEqual({ src: 1, scaled: 1, m: 1 });
      const w = warnings(second.events);
      expect(w).toHaveLength(1);
      expect(w[0]).toEqual({ nodeId: 'scaled', message: expect.stringMatching(/content does not match its hash; recomputing src/) });
      expect(endOf(second.events, 'src').record!.outputs.x.hash).toBe(srcOut.hash);
      expect(await metricsSum(second.store, endOf(second.events, 'm').record!.outputs.metrics)).toBe(50);
    }, 15_000);
  }

  it('a corrupt input of a worker-thread node is detected inside the worker and recomputed', async () => {
    const yaml = [
      'name: worker-corrupt',
      PLUGINS_LINE,
      'nodes:',
      '  src: { type: test-source, params: { n: 3, value: 2 } }',
      '  spun: { type: test-spin, inputs: { x: src }, params: { ms: 5 } }',
      '',
    ].join('\n');
    const t = await setup(yaml);
    const first = await runInProcess(t.pipeline, { cache: t.cache, log: t.log });
    const srcOut = endOf(first.events, 'src').record!.outputs.x;
    await flipByte(objectPath(t.cache, srcOut.hash));
    await clearLog(t.log);

    const second = await runInProcess(t.pipeline, { cache: t.cache, log: t.log, overrides: ['spun.add=10'] });
    expect(second.result.summary.ok).toBe(true);
    expect(await executionCounts(t.log)).toEqual({ src: 1, spun: 1 });
    expect(warnings(second.events).map((w) => w.nodeId)).toEqual(['spun']);
    const y = decodeArtifact({ kind: 'tensor' }, await second.store.read(endOf(second.events, 'spun').record!.outputs.y));
    expect(Array.from((y as { data: Float32Array }).data)).toEqual([12, 12, 12]);
  });
});

describe('sieve verify', () => {
  beforeAll(assertCliBuilt);

  it('reports a corrupt object with exit 1; --repair removes it and the next run recomputes it', async () => {
    const t = await setup();
    const first = await runCli(['run', t.pipeline, '--cache', t.cache, '--json'], { cwd: t.dir, log: t.log });
    expect(first.exitCode).toBe(0);
    const objects = await objectFiles(t.cache);
    expect(objects).toHaveLength(3);

    const clean = await runCli(['verify', '--cache', t.cache], { cwd: t.dir });
    expect(clean.exitCode).toBe(0);
    expect(clean.stdout).toContain('3 object(s) checked, 0 bad');

    const victim = objects[1];
    await flipByte(victim.path);
    const bad = await runCli(['verify', '--cache', t.cache], { cwd: t.dir });
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toContain(`bad ${victim.hash}: content does not match its hash`);
    expect(bad.stdout).toContain('3 object(s) checked, 1 bad');
    expect((await objectFiles(t.cache)).map((o) => o.hash)).toContain(victim.hash); // verify alone keeps it

    const repaired = await runCli(['verify', '--cache', t.cache, '--repair'], { cwd: t.dir });
    expect(repaired.exitCode).toBe(0);
    expect(repaired.stdout).toContain('removed; they will be recomputed');
    expect((await objectFiles(t.cache)).map((o) => o.hash)).not.toContain(victim.hash);

    const after = await runCli(['verify', '--cache', t.cache], { cwd: t.dir });
    expect(after.exitCode).toBe(0);
    expect(after.stdout).toContain('2 object(s) checked, 0 bad');

    await clearLog(t.log);
    const rerun = await runCli(['run', t.pipeline, '--cache', t.cache, '--json'], { cwd: t.dir, log: t.log });
    expect(rerun.exitCode).toBe(0);
    expect(Object.values(await executionCounts(t.log)).reduce((a, b) => a + b, 0)).toBe(1);
    expect((await objectFiles(t.cache)).map((o) => o.hash)).toContain(victim.hash);
  });
});

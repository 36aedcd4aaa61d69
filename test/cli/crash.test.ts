// Crash safety and concurrent runs: a process killed while writing a large object leaves the cache
// consistent (no partial object is ever visible), and two processes can share one cache.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  PLUGINS_LINE, actionRecords, assertCliBuilt, badObjects, clearLog, danglingActions, executionCounts, lockfileOf,
  makeTempDir, objectFiles, removeTempDirs, runCli, startCli, statusesFromJson, writePipeline,
} from '../helpers/runtime.js';

beforeAll(assertCliBuilt);
afterEach(removeTempDirs);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Temp files of at least `minBytes` in the store's tmp/ (an object being written). */
async function largeTempFiles(cache: string, minBytes: number): Promise<string[]> {
  const tmp = join(cache, 'tmp');
  const names = (await readdir(tmp).catch(() => [] as string[])).filter((n) => n.endsWith('.part'));
  const sizes = await Promise.all(names.map((n) => stat(join(tmp, n)).then((s) => s.size, () => 0)));
  return names.filter((_, i) => sizes[i] >= minBytes);
}

describe('crash safety', () => {
  it('SIGKILL while a large object is being written leaves no partial object, and a rerun reuses what finished', async () => {
    const dir = await makeTempDir();
    const pipeline = await writePipeline(dir, [
      'name: crash',
      PLUGINS_LINE,
      'nodes:',
      '  quick: { type: test-source, params: { n: 8, value: 3 } }',
      '  big: { type: test-big, params: { mb: 150 } }',
      '',
    ].join('\n'));
    const cache = join(dir, 'cache');
    const log = join(dir, 'runs.log');
    const child = startCli(['run', pipeline, '--cache', cache, '--jobs', '2'], { cwd: dir, log });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    let exited = false;
    void child.then(() => {
      exited = true;
    });

    // Kill once `quick` has finished and `big` is visibly writing its object (a .part file of > 1 MB).
    let killedMidWrite = false;
    const deadline = Date.now() + 30_000;
    while (!exited && Date.now() < deadline) {
      if (stdout.includes('✓ quick') && (await largeTempFiles(cache, 1 << 20)).length > 0) {
        child.kill('SIGKILL');
        killedMidWrite = true;
        break;
      }
      await sleep(2);
    }
    const result = await child;
    expect(killedMidWrite, `the run ended before big's object was being written; output:\n${stdout}`).toBe(true);
    expect(result.signal).toBe('SIGKILL');
    expect(await executionCounts(log)).toEqual({ quick: 1, big: 1 });

    // Every visible object is whole, every action names objects that exist, and big has none yet.
    const objects = await objectFiles(cache);
    expect(objects.length).toBeGreaterThan(0);
    expect(await badObjects(cache)).toEqual([]);
    expect(await danglingActions(cache)).toEqual([]);
    expect((await actionRecords(cache)).map((a) => a.type)).toEqual(['test-source']);

    await clearLog(log);
    const rerun = await runCli(['run', pipeline, '--cache', cache, '--json'], { cwd: dir, log });
    expect(rerun.exitCode).toBe(0);
    expect(statusesFromJson(rerun.stdout)).toEqual({ quick: 'cached', big: 'ran' });
    expect(await executionCounts(log)).toEqual({ big: 1 });
    expect(await badObjects(cache)).toEqual([]);
    expect(await danglingActions(cache)).toEqual([]);
  });
});

describe('concurrent runs', () => {
  it('two processes on the same pipeline and cache both succeed and leave a clean cache and a valid lockfile', async () => {
    const dir = await makeTempDir();
    const pipeline = await writePipeline(dir, [
      'name: concurrent',
      PLUGINS_LINE,
      'nodes:',
      '  src: { type: test-source, params: { n: 64, step: 0.5, delay_ms: 100 } }',
      '  a: { type: test-scale, inputs: { x: src }, params: { factor: 2, delay_ms: 50 } }',
      '  b: { type: test-scale, inputs: { x: src }, params: { factor: 3, delay_ms: 50 } }',
      '  sum: { type: test-add, inputs: { a: a, b: b } }',
      '  m: { type: test-metrics, inputs: { x: sum } }',
      '',
    ].join('\n'));
    const cache = join(dir, 'cache');
    const log = join(dir, 'runs.log');
    const [first, second] = await Promise.all([
      startCli(['run', pipeline, '--cache', cache, '--json'], { cwd: dir, log }),
      startCli(['run', pipeline, '--cache', cache, '--json'], { cwd: dir, log }),
    ]);
    expect(first.exitCode, String(first.stderr)).toBe(0);
    expect(second.exitCode, String(second.stderr)).toBe(0);
    for (const r of [first, second]) expect(Object.keys(statusesFromJson(String(r.stdout))).sort()).toEqual(['a', 'b', 'm', 'src', 'sum']);

    const verify = await runCli(['verify', '--cache', cache], { cwd: dir });
    expect(verify.exitCode).toBe(0);
    expect(verify.stdout).toContain('5 object(s) checked, 0 bad');
    expect(await danglingActions(cache)).toEqual([]);

    const lock = await lockfileOf(pipeline);
    const nodes = lock.points.default.nodes;
    expect(Object.keys(nodes).sort()).toEqual(['a', 'b', 'm', 'src', 'sum']);
    const present = new Set((await objectFiles(cache)).map((o) => o.hash));
    for (const rec of Object.values(nodes)) for (const o of Object.values(rec.outputs)) expect(present.has(o.hash)).toBe(true);

    // And a third run finds everything cached.
    await clearLog(log);
    const third = await runCli(['run', pipeline, '--cache', cache, '--json'], { cwd: dir, log });
    expect(new Set(Object.values(statusesFromJson(third.stdout)))).toEqual(new Set(['cached']));
    expect(await executionCounts(log)).toEqual({});
  });
});

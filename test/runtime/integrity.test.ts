// The integrity of the cache's own files: a plan memo, an action record or a run record edited on
// disk is never used as it is; gc never removes what a running process uses; temporaries of a
// killed process are removed by the next run, and none is left beside the pipeline.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/nodes/index.js';
import { PlanCache } from '../../src/runtime/planning/plan-cache.js';
import { loadPlan } from '../../src/runtime/planning/plan.js';
import { Store } from '../../src/runtime/store/store.js';
import {
  PLUGINS_LINE, actionRecords, assertCliBuilt, executions, jsonLines, linearPipeline, lockfileOf, makeTempDir, objectFiles,
  removeTempDirs, runCli, runInProcess, sha256Hex, startCli, statuses, writePipeline,
} from '../helpers/runtime.js';

beforeAll(assertCliBuilt);
afterAll(removeTempDirs);

describe('plan memo', () => {
  it('an entry edited on disk (absorb 0.7 → 0.9 in the grid) is planned again', async () => {
    const dir = await makeTempDir('sieve-integrity-plan-');
    const path = await writePipeline(dir, `${linearPipeline()}sweep:\n  grid:\n    scaled.factor: [0.7, 0.8]\n`);
    const memoDir = join(dir, 'plans');
    const plan = () => loadPlan(path, { registry: builtinRegistry(), planCache: () => new PlanCache(memoDir) });
    const fresh = await plan();
    const [name] = (await readdir(memoDir)).filter((n) => n.endsWith('.json'));
    const text = await readFile(join(memoDir, name), 'utf8');
    expect(text).toContain('"factor":0.7');
    await writeFile(join(memoDir, name), text.replaceAll('"factor":0.7', '"factor":0.9'));
    const again = await plan();
    const factors = (p: typeof fresh) => [...p.nodes.values()].filter((n) => n.nodeId === 'scaled').map((n) => n.params.factor);
    expect(factors(again)).toEqual([0.7, 0.8]);
    expect(factors(again)).toEqual(factors(fresh));
  });
});

describe('action records', () => {
  it('a record stored under another key, or with an output swapped for another of the same size, is not used', async () => {
    const dir = await makeTempDir('sieve-integrity-action-');
    const cache = join(dir, 'cache');
    const log = join(dir, 'run.log');
    const path = await writePipeline(dir, linearPipeline());
    const first = await runInProcess(path, { cache, log });
    const keyOf = (id: string) => first.events.flatMap((e) => (e.event === 'node-end' && e.node.nodeId === id ? [e.key!] : []))[0];
    const store = new Store(cache);

    // scaled's record replaced by src's (a valid record, under the wrong file name).
    await writeFile(store.actionPath(keyOf('scaled')), await readFile(store.actionPath(keyOf('src'))));
    // m's output swapped for another object of the same size (its digest no longer matches).
    const mRecord = JSON.parse(await readFile(store.actionPath(keyOf('m')), 'utf8')) as { outputs: { metrics: { hash: string; size: number } } };
    const honest = await store.read(mRecord.outputs.metrics);
    const forged = Buffer.from(honest);
    forged[forged.length - 2] = forged[forged.length - 2] === 0x31 ? 0x32 : 0x31;
    const put = await store.put(forged);
    expect(put.size).toBe(mRecord.outputs.metrics.size);
    mRecord.outputs.metrics.hash = put.hash;
    await writeFile(store.actionPath(keyOf('m')), JSON.stringify(mRecord));

    await writeFile(log, '');
    const second = await runInProcess(path, { cache, log });
    expect(statuses(second.events)).toEqual({ src: 'cached', scaled: 'ran', m: 'ran' });
    expect((await lockfileOf(path)).points.default.nodes.m.outputs.metrics.hash).not.toBe(put.hash);
    expect((await executions(log)).sort()).toEqual(['m', 'scaled']);
  });
});

describe('cache hits', () => {
  it('a record serves a hit only with its outputs intact, and one from elsewhere only for its own pipeline', async () => {
    const store = new Store(join(await makeTempDir('sieve-integrity-hit-'), 'cache'));
    await store.init();
    const put = await store.put(new TextEncoder().encode('an output'));
    const out = { hash: put.hash, size: put.size, kind: 'file' as const };
    const record = { type: 't', version: '1', outputs: { y: out }, deps: [], notes: {}, durationMs: 1 };
    const local = { ...record, key: 'a'.repeat(64) };
    const imported = { ...record, key: 'b'.repeat(64), origin: { kind: 'bundle' as const, source: 'c'.repeat(64), pipeline: '/theirs.yaml' } };
    const lost = { ...record, key: 'd'.repeat(64), outputs: { y: { ...out, hash: 'e'.repeat(64) } } };
    for (const r of [local, imported, lost]) await store.putAction(r);
    expect((await store.usableHit(local.key, '/mine.yaml'))?.outputs).toEqual({ y: out });
    expect(await store.usableHit(imported.key, '/mine.yaml')).toBeUndefined();
    expect((await store.usableHit(imported.key, '/theirs.yaml'))?.key).toBe(imported.key);
    expect(await store.usableHit(lost.key, '/mine.yaml')).toBeUndefined();
    expect(await store.usableHit('f'.repeat(64), '/mine.yaml')).toBeUndefined();
  });
});

describe('gc', () => {
  it('an unreadable run record stops gc with an error and nothing is removed', async () => {
    const dir = await makeTempDir('sieve-integrity-gc-');
    const cache = join(dir, 'cache');
    const path = await writePipeline(dir, linearPipeline());
    await runInProcess(path, { cache });
    const before = await objectFiles(cache);
    const [record] = await readdir(join(cache, 'runs'));
    const text = await readFile(join(cache, 'runs', record), 'utf8');
    await writeFile(join(cache, 'runs', record), text.slice(0, text.length / 2));
    const dry = await runCli(['gc', '--cache', cache, '--dry-run'], { cwd: dir });
    expect(dry.exitCode).toBe(1);
    expect(dry.stderr).toMatch(/run record .*runs\/[0-9a-f]{16}\.json cannot be read .*remove it, or run its pipeline again/);
    expect(dry.stdout).toBe('');
    await writeFile(join(cache, 'runs', record), '{"nodes": "everything"}');
    const gc = await runCli(['gc', '--cache', cache], { cwd: dir });
    expect(gc.exitCode).toBe(1);
    expect(gc.stderr).toMatch(/is not a Sieve run record/);
    expect(await objectFiles(cache)).toEqual(before);
  });

  it('gc while a run writes to the same cache removes nothing the run uses or produces', async () => {
    const dir = await makeTempDir('sieve-integrity-gc-run-');
    const cache = join(dir, 'cache');
    const path = await writePipeline(dir, [
      'name: busy', PLUGINS_LINE, 'nodes:',
      '  src: { type: test-source, params: { n: 256, step: 1 } }',
      '  a: { type: test-spin, inputs: { x: src }, params: { ms: 400 } }',
      '  b: { type: test-spin, inputs: { x: a }, params: { ms: 400 } }',
      '  c: { type: test-spin, inputs: { x: b }, params: { ms: 400 } }',
      '  m: { type: test-metrics, inputs: { x: c } }', '',
    ].join('\n'));
    await mkdir(cache); // gc refuses a cache that does not exist
    const run = startCli(['run', path, '--cache', cache, '--json', '--jobs', '1'], { cwd: dir });
    let done = false;
    void run.then(() => {
      done = true;
    });
    const gcs: string[] = [];
    while (!done) {
      const gc = await runCli(['gc', '--cache', cache], { cwd: dir });
      expect(gc.exitCode, gc.stderr).toBe(0);
      gcs.push(gc.stdout);
    }
    const r = await run;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(gcs.length).toBeGreaterThan(1);
    const events = jsonLines(String(r.stdout));
    expect(events.filter((e) => e.event === 'warning' || e.event === 'node-warning')).toEqual([]);
    const present = new Set((await objectFiles(cache)).map((o) => o.hash));
    for (const rec of Object.values((await lockfileOf(path)).points.default.nodes)) {
      for (const o of Object.values(rec.outputs)) expect(present.has(o.hash), `${o.hash} of the lockfile is in the cache`).toBe(true);
    }
    expect(gcs.some((o) => /in use by a running process/.test(o))).toBe(true);
    expect(await readdir(join(cache, 'state', 'leases'))).toEqual([]);
  });
});

describe('temporary files', () => {
  it('the next run removes what a killed process left in tmp/, and the lockfile is never written beside the pipeline', async () => {
    const dir = await makeTempDir('sieve-integrity-tmp-');
    const cache = join(dir, 'cache');
    await writePipeline(dir, linearPipeline());
    await mkdir(join(cache, 'tmp'), { recursive: true });
    // What a killed process (pid 2^22 + 1 is above Linux's pid_max default, so not alive) leaves.
    const dead = 4194305;
    const here = `${sha256Hex(Buffer.from(hostname())).slice(0, 8)}0123456789ab`;
    await mkdir(join(cache, 'tmp', `scratch-${dead}-${here}`));
    await writeFile(join(cache, 'tmp', `${dead}-${here}.part`), 'partial');
    await writeFile(join(cache, 'tmp', `${process.pid}-${here}.part`), 'a live process writing');
    // Another machine sharing the cache: its pids mean nothing here, so its temporaries stay.
    await writeFile(join(cache, 'tmp', `${dead}-ffffffff0123456789ab.part`), 'another host writing');
    await writeFile(join(dir, `pipeline.lock.${dead}-01234567.tmp`), '{');
    const r = await runCli(['run', 'pipeline.yaml', '--cache', 'cache'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await readdir(join(cache, 'tmp'))).sort()).toEqual([`${dead}-ffffffff0123456789ab.part`, `${process.pid}-${here}.part`].sort());
    // Beside the pipeline: its lockfile and results/ (this folder is its project root), no temporaries.
    expect((await readdir(dir)).sort()).toEqual(['cache', 'pipeline.lock', 'pipeline.yaml', 'results']);
    expect(existsSync(join(dir, 'pipeline.lock'))).toBe(true);
    expect((await actionRecords(cache)).length).toBe(3);
  });
});

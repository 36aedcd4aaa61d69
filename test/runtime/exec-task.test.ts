// `sieve exec-task`: one node instance from a task description file, as a cluster job runs it. The
// keys and outputs equal a local run's; a second execution reuses the cache; an upstream that has
// not run, or a malformed file, is reported.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/runtime/errors.js';
import { execTask, readTaskFile, taskFor, type TaskFile, type TaskResultFile } from '../../src/runtime/execution/exec-task.js';
import type { Plan } from '../../src/runtime/planning/plan-types.js';
import {
  assertCliBuilt, clearLog, executionCounts, linearPipeline, makeTempDir, nodeEnds, planPipeline, removeTempDirs, runCli, runInProcess,
  writePipeline,
} from '../helpers/runtime.js';

afterEach(removeTempDirs);

function tasksOf(plan: Plan, cache: string, dir: string, cachedKeys = new Map<string, string>()): TaskFile[] {
  const at = {
    store: { type: 'local' as const, root: cache }, sieveVersion: 'test', cachedKeys,
    resultPath: (id: string) => join(dir, `${id}.result.json`),
  };
  return [...plan.nodes.values()].filter((n) => !cachedKeys.has(n.instanceId)).map((n) => taskFor(plan, n, at));
}

const quiet = { log: () => undefined };

describe('exec-task', () => {
  it('a chain of tasks gives the keys and output hashes of a local run; running them again reuses the cache', async () => {
    const dir = await makeTempDir();
    const pipeline = await writePipeline(dir, linearPipeline());
    const log = join(dir, 'runs.log');
    const local = await runInProcess(pipeline, { cache: join(dir, 'local'), lockfile: false });
    process.env.SIEVE_TEST_LOG = log;
    const plan = await planPipeline(pipeline);
    const tasks = tasksOf(plan, join(dir, 'remote'), dir);
    expect(tasks.map((t) => Object.values(t.inputs).map((i) => ('result' in i ? 'result' : 'other')))).toEqual([[], ['result'], ['result']]);
    const results: TaskResultFile[] = [];
    for (const t of tasks) results.push(await execTask(t, quiet));
    expect(results.map((r) => r.status)).toEqual(['ran', 'ran', 'ran']);
    expect(results.map((r) => r.key)).toEqual(nodeEnds(local.events).map((e) => e.key));
    expect(results.map((r) => r.outputs)).toEqual(nodeEnds(local.events).map((e) => e.record!.outputs));
    expect(await executionCounts(log)).toEqual({ src: 1, scaled: 1, m: 1 });

    await clearLog(log);
    const again = [];
    for (const t of tasks) again.push(await execTask(t, quiet));
    expect(again.map((r) => r.status)).toEqual(['cached', 'cached', 'cached']);
    expect(await executionCounts(log)).toEqual({});
    delete process.env.SIEVE_TEST_LOG;
  });

  it('inputs from actions already in the cache are read by key', async () => {
    const dir = await makeTempDir();
    const pipeline = await writePipeline(dir, linearPipeline());
    const cache = join(dir, 'cache');
    const local = await runInProcess(pipeline, { cache, lockfile: false });
    const src = [...local.plan.nodes.values()].find((n) => n.nodeId === 'src')!;
    const plan = await planPipeline(pipeline, { overrides: ['scaled.factor=5'] });
    const tasks = tasksOf(plan, cache, dir, new Map([[src.instanceId, nodeEnds(local.events)[0].key!]]));
    expect(tasks.map((t) => t.nodeId)).toEqual(['scaled', 'm']);
    expect(tasks[0].inputs.x).toEqual({ key: nodeEnds(local.events)[0].key, port: 'x', nodeId: 'src' });
    const r = await execTask(tasks[0], quiet);
    expect(r.status).toBe('ran');
    const expected = await runInProcess(pipeline, { cache, lockfile: false, overrides: ['scaled.factor=5'] });
    expect(r.key).toBe(nodeEnds(expected.events)[1].key);
    expect(nodeEnds(expected.events)[1].status).toBe('cached');
  });

  it('an upstream task that has not run, or failed, fails the task with its node named, and writes a failed result', async () => {
    const dir = await makeTempDir();
    const pipeline = await writePipeline(dir, linearPipeline());
    const plan = await planPipeline(pipeline);
    const [, scaled] = tasksOf(plan, join(dir, 'cache'), dir);
    const r = await execTask(scaled, quiet);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/input x: src has no result yet/);
    expect(readResult(scaled).status).toBe('failed');
    await writeFile((scaled.inputs.x as { result: string }).result, JSON.stringify({ status: 'failed', error: 'boom' }));
    expect((await execTask(scaled, quiet)).error).toMatch(/input x: src failed: boom/);
  });

  it('a task planned with another version of its node type fails without running', async () => {
    const dir = await makeTempDir();
    const plan = await planPipeline(await writePipeline(dir, linearPipeline()));
    const [src] = tasksOf(plan, join(dir, 'cache'), dir);
    const r = await execTask({ ...src, node: { ...src.node, version: '999' } }, quiet);
    expect(r.error).toMatch(/version .* here, but the task was planned with version 999/);
  });

  it('a store that cannot be opened still gives a failed result file saying why', async () => {
    const dir = await makeTempDir();
    const plan = await planPipeline(await writePipeline(dir, linearPipeline()));
    const [src] = tasksOf(plan, join(dir, 'cache'), dir);
    // A remote of a kind this Sieve does not know: refused when the store is opened, before anything runs.
    const task = { ...src, store: { type: 'tiered', root: join(dir, 'cache'), remote: { type: 'ftp', host: 'files.lab' } } } as unknown as TaskFile;
    const r = await execTask(task, quiet);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/ftp/);
    expect(JSON.parse(readFileSync(task.result, 'utf8'))).toMatchObject({ status: 'failed', nodeId: 'src', error: r.error });
  });

  it('a malformed task file is a usage error naming the field', async () => {
    const dir = await makeTempDir();
    const plan = await planPipeline(await writePipeline(dir, linearPipeline()));
    const [src] = tasksOf(plan, join(dir, 'cache'), dir);
    const path = join(dir, 'task.json');
    await writeFile(path, JSON.stringify({ ...src, inputs: { x: { port: 'y' } } }));
    expect(() => readTaskFile(path)).toThrow(UsageError);
    expect(() => readTaskFile(path)).toThrow(/inputs\.x: expected/);
    await writeFile(path, JSON.stringify({ ...src, format: 'other' }));
    expect(() => readTaskFile(path)).toThrow(/format/);
    expect(() => readTaskFile(join(dir, 'absent.json'))).toThrow(/cannot read task file/);
  });
});

describe('sieve exec-task (the CLI)', () => {
  beforeAll(assertCliBuilt);

  it('runs a built-in node type from its task file in another process and exits 0, then 1 for a failing node', async () => {
    const dir = await makeTempDir();
    const pipeline = await writePipeline(
      dir,
      [
        'name: t', 'seed: 3', 'nodes:',
        '  data:', '    type: load',
        '    params: {source: synthetic, num_classes: 4, dim: 8, train_per_class: 10, test_per_class: 5}',
        '  noise:', '    type: noise-inject', '    inputs: {labels: data.train_labels, classes: data.classes}',
        '    params: {model: symmetric, rate: 0.2}', '',
      ].join('\n'),
    );
    const local = await runInProcess(pipeline, { cache: join(dir, 'local'), lockfile: false });
    const plan = await planPipeline(pipeline);
    expect(local.result.summary.ok).toBe(true);
    const tasks = tasksOf(plan, join(dir, 'cache'), dir);
    expect(tasks[0].node.module).toEqual({ builtin: 'nodes/load' });
    for (const [i, t] of tasks.entries()) {
      const path = join(dir, `task-${i}.json`);
      await writeFile(path, JSON.stringify(t));
      const r = await runCli(['exec-task', path], { cwd: dir });
      expect(r.exitCode, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`${t.nodeId}: running`));
    }
    expect(tasks.map((t) => readResult(t).key)).toEqual(nodeEnds(local.events).map((e) => e.key));

    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ ...tasks[1], params: { ...tasks[1].params, rate: 7 }, result: join(dir, 'bad.result.json') }));
    const r = await runCli(['exec-task', bad], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/noise: failed/);
    expect((await runCli(['exec-task', join(dir, 'nothing.json')], { cwd: dir })).exitCode).toBe(2);
  });
});

function readResult(t: TaskFile): TaskResultFile {
  return JSON.parse(readFileSync(t.result, 'utf8')) as TaskResultFile;
}

// The worker pool on a real Redis (helpers/redis-server.ts, with a password, so that the URL's
// credentials are exercised): `sieve worker` processes and `sieve run --executor bullmq` as the
// coordinator, over one shared cache. Each test uses a database of its own.
import { copyFileSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  PLUGINS_LINE, REPO_ROOT, TEST_PLUGIN, assertCliBuilt, badObjects, executionCounts, lockfileOf, makeTempDir, removeTempDirs, runCli,
  startCli, writePipeline,
} from '../helpers/runtime.js';
import { redisUnavailable, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { contract, startWorker, type PoolWorker } from '../helpers/worker-pool.js';

const why = redisUnavailable();
if (why) console.warn(`skipping the worker pool tests: ${why}`);

const PASSWORD = 'pw-Zq81-never-in-files';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** src → slow (a CPU-bound node of `ms`) → m, with an optional sweep line. */
function spinPipeline(name: string, ms: number, sweep?: string): string {
  return [
    `name: ${name}`, 'seed: 1', PLUGINS_LINE, 'nodes:',
    '  src: {type: test-source, params: {n: 4}}',
    `  slow: {type: test-spin, inputs: {x: src}, params: {ms: ${ms}}}`,
    '  m: {type: test-metrics, inputs: {x: slow}}', ...(sweep ? [sweep] : []), '',
  ].join('\n');
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

describe.skipIf(why)('worker pool on Redis (BullMQ)', () => {
  let redis: RedisServer;
  let db = 0;
  const workers: PoolWorker[] = [];
  /** A URL of a fresh database of the test server. */
  const nextUrl = (): string => redis.url.replace(/\/0$/, `/${++db}`);
  const env = { SIEVE_BULLMQ_POLL_MS: '200', SIEVE_BULLMQ_BACKOFF_MS: '100' };

  beforeAll(async () => {
    assertCliBuilt();
    redis = (await startRedis({ password: PASSWORD }))!;
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await removeTempDirs();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('the quickstart grid over 2 workers: the local lockfile (same keys and hashes); the URL password is nowhere', async () => {
    const dir = await makeTempDir();
    const url = nextUrl();
    const local = join(dir, 'local.yaml');
    const pool = join(dir, 'pool.yaml');
    copyFileSync(join(REPO_ROOT, 'pipelines/quickstart.yaml'), local);
    copyFileSync(join(REPO_ROOT, 'pipelines/quickstart.yaml'), pool);
    expect((await runCli(['run', local, '--cache', join(dir, 'local')], { cwd: dir })).exitCode).toBe(0);
    const cache = join(dir, 'cache');
    workers.push(startWorker(url, 'w1', { cwd: dir, args: ['--cache', cache] }), startWorker(url, 'w2', { cwd: dir, args: ['--cache', cache] }));
    const r = await runCli(['run', pool, '--cache', cache, '--executor', 'bullmq', '--queue', url], { cwd: dir, env });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(contract(await lockfileOf(pool))).toEqual(contract(await lockfileOf(local)));
    // The progress view says which worker ran what; both took a share.
    expect(r.stdout).toMatch(/ran in .* on w1/);
    expect(r.stdout).toMatch(/ran in .* on w2/);
    expect(r.stdout).toContain(`queue redis://***@127.0.0.1:${redis.port}/${db}`);
    const logs = workers.map((w) => w.output()).join('\n');
    expect(logs).toMatch(/w1: 1 at once/);
    // Credentials: not in the output, the lockfile, the run records, the results or the logs.
    for (const text of [r.stdout, r.stderr, logs]) expect(text).not.toContain(PASSWORD);
    for (const f of filesUnder(dir)) {
      if (f.includes('/objects/')) continue;
      expect(readFileSync(f, 'utf8').includes(PASSWORD), f).toBe(false);
    }
    // A rerun is all cache hits, decided by the coordinator.
    const again = await runCli(['run', pool, '--cache', cache, '--executor', 'bullmq', '--queue', url], { cwd: dir, env });
    expect(again.stdout).toMatch(/done: 0 ran, \d+ cached/);
  }, 180_000);

  it('a failing task is retried with backoff, then reported with its error and worker; dependents are skipped', async () => {
    const dir = await makeTempDir();
    const url = nextUrl();
    const log = join(dir, 'runs.log');
    const pipeline = await writePipeline(dir, [
      'name: failing', 'seed: 1', PLUGINS_LINE, 'nodes:',
      '  src: {type: test-source, params: {n: 4}}',
      '  bad: {type: test-fail, inputs: {x: src}, params: {message: disk on fire}}',
      '  after: {type: test-metrics, inputs: {x: bad}}', '',
    ].join('\n'));
    const cache = join(dir, 'cache');
    workers.push(startWorker(url, 'w1', { cwd: dir, log, args: ['--cache', cache, '--plugin', TEST_PLUGIN] }));
    const r = await runCli(['run', pipeline, '--cache', cache, '--executor', 'bullmq', '--queue', url, '--retries', '2'], { cwd: dir, env });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/bad \(test-fail\) failed: disk on fire \(on worker w1, after 3 attempt\(s\)\)/);
    expect(r.stdout).toMatch(/after \(test-metrics\) skipped/);
    expect(await executionCounts(log)).toEqual({ src: 1, bad: 3 });
  }, 120_000);

  it('a worker refuses a node type it does not have, another version of one, and a command node without --allow-command', async () => {
    const dir = await makeTempDir();
    const url = nextUrl();
    const cache = join(dir, 'cache');
    // No --plugin: the test node types are not this worker's.
    workers.push(startWorker(url, 'bare', { cwd: dir, args: ['--cache', cache] }));
    const plugin = await writePipeline(dir, ['name: plugin', 'seed: 1', PLUGINS_LINE, 'nodes:', '  src: {type: test-source, params: {n: 4}}', ''].join('\n'), 'plugin.yaml');
    const r = await runCli(['run', plugin, '--cache', cache, '--executor', 'bullmq', '--queue', url], { cwd: dir, env });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/src \(test-source\) failed: worker bare refuses the task: node type "test-source" is not a built-in and no plugin it was started with provides it/);
    expect(r.stdout).toMatch(/after 1 attempt/);

    const command = await writePipeline(dir, [
      'name: cmd', 'seed: 1', 'nodes:',
      '  hello: {type: command, params: {run: "echo hi > {outputs.out}", outputs: {out: {kind: file}}}}', '',
    ].join('\n'), 'command.yaml');
    const c = await runCli(['run', command, '--cache', cache, '--executor', 'bullmq', '--queue', url], { cwd: dir, env });
    expect(c.exitCode).toBe(1);
    expect(c.stdout).toMatch(/hello \(command\) failed: worker bare refuses the task: `command` nodes run on a worker only when it was started with --allow-command/);

    // The same node type name in another version: planned with 1, the worker has 2.
    const versioned = (v: string): string =>
      `export default { type: 'test-versioned', version: '${v}', description: 'v${v}', paramsSchema: { type: 'object', properties: {} }, ` +
      `ports: { inputs: {}, outputs: { x: { kind: 'json' } } }, async run() { return { x: { v: '${v}' } }; } };\n`;
    await writeFile(join(dir, 'v1.mjs'), versioned('1'));
    await writeFile(join(dir, 'v2.mjs'), versioned('2'));
    workers.push(startWorker(url, 'newer', { cwd: dir, args: ['--cache', cache, '--plugin', join(dir, 'v2.mjs')] }));
    await workers.shift()!.stop();
    const old = await writePipeline(dir, ['name: old', 'seed: 1', `plugins: [${JSON.stringify(join(dir, 'v1.mjs'))}]`, 'nodes:', '  v: {type: test-versioned}', ''].join('\n'), 'old.yaml');
    const o = await runCli(['run', old, '--cache', cache, '--executor', 'bullmq', '--queue', url], { cwd: dir, env });
    expect(o.exitCode).toBe(1);
    expect(o.stdout).toMatch(/v \(test-versioned\) failed: worker newer refuses the task: node type test-versioned is version 2 here, the task was planned with 1/);

    workers.push(startWorker(url, 'trusted', { cwd: dir, args: ['--cache', cache, '--allow-command'] }));
    await workers.shift()!.stop();
    const ok = await runCli(['run', command, '--cache', cache, '--executor', 'bullmq', '--queue', url], { cwd: dir, env });
    expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/hello \(command\) ran in .* on trusted/);
  }, 120_000);

  it('kill -9 of a worker mid-task: another worker takes the task over after the lock time; nothing lost, no bad object', async () => {
    const dir = await makeTempDir();
    const url = nextUrl();
    const log = join(dir, 'runs.log');
    const cache = join(dir, 'cache');
    const pipeline = await writePipeline(dir, spinPipeline('killed', 3000));
    const a = startWorker(url, 'wa', { cwd: dir, log, args: ['--cache', cache, '--plugin', TEST_PLUGIN] });
    const b = startWorker(url, 'wb', { cwd: dir, log, args: ['--cache', cache, '--plugin', TEST_PLUGIN] });
    workers.push(a, b);
    const run = startCli(['run', pipeline, '--cache', cache, '--executor', 'bullmq', '--queue', url], { cwd: dir, env });
    const until = Date.now() + 60_000;
    let victim: PoolWorker | undefined;
    // The node itself has started (it logs its execution) on one of them: kill that one.
    while (!victim) {
      expect(Date.now() < until, a.output() + b.output()).toBe(true);
      if ((await executionCounts(log)).slow) victim = [a, b].find((w) => w.output().includes('slow: running'));
      await sleep(50);
    }
    process.kill(victim.pid, 'SIGKILL');
    await victim.exited;
    workers.splice(workers.indexOf(victim), 1);
    const survivor = victim === a ? b : a;
    const r = await run;
    expect(r.exitCode, String(r.stdout) + String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toMatch(new RegExp(`slow \\(test-spin\\) ran in .* on ${survivor.name}`));
    expect(await executionCounts(log)).toEqual({ src: 1, slow: 2, m: 1 });
    expect(await badObjects(cache)).toEqual([]);
    expect((await lockfileOf(pipeline)).points.default.nodes.m).toBeDefined();
  }, 120_000);

  it('Redis restarted mid-run: coordinator and workers reconnect and the run finishes', async () => {
    const dir = await makeTempDir();
    const url = nextUrl();
    const log = join(dir, 'runs.log');
    const cache = join(dir, 'cache');
    const pipeline = await writePipeline(dir, spinPipeline('restart', 2500, 'sweep: {grid: {m.offset: [0, 1, 2]}}'));
    // A lock longer than the outage: the running task keeps its worker.
    workers.push(startWorker(url, 'w1', { cwd: dir, log, args: ['--cache', cache, '--plugin', TEST_PLUGIN, '--lock-ms', '10000'] }));
    const run = startCli(['run', pipeline, '--cache', cache, '--executor', 'bullmq', '--queue', url], { cwd: dir, env });
    const until = Date.now() + 60_000;
    while (!workers[0].output().includes('slow: running')) {
      expect(Date.now() < until, workers[0].output()).toBe(true);
      await sleep(50);
    }
    await redis.restart(1500);
    const r = await run;
    expect(r.exitCode, String(r.stdout) + String(r.stderr) + workers[0].output()).toBe(0);
    expect(String(r.stdout)).toMatch(/done: 5 ran/);
    expect((await executionCounts(log)).slow).toBeGreaterThanOrEqual(1);
    expect(Object.keys((await lockfileOf(pipeline)).points)).toHaveLength(3);
    expect(await badObjects(cache)).toEqual([]);
  }, 120_000);

  it('the coordinator killed mid-run: `sieve run` again picks up what was done', async () => {
    const dir = await makeTempDir();
    const url = nextUrl();
    const log = join(dir, 'runs.log');
    const cache = join(dir, 'cache');
    const pipeline = await writePipeline(dir, spinPipeline('coordinator', 2000));
    // Started before any worker: it says so, and its tasks wait in the queue.
    const first = startCli(['run', pipeline, '--cache', cache, '--executor', 'bullmq', '--queue', url], { cwd: dir, env });
    await sleep(1500);
    workers.push(startWorker(url, 'w1', { cwd: dir, log, args: ['--cache', cache, '--plugin', TEST_PLUGIN] }));
    const until = Date.now() + 60_000;
    while (!workers[0].output().includes('slow: running')) {
      expect(Date.now() < until).toBe(true);
      await sleep(50);
    }
    first.kill('SIGKILL');
    expect(String((await first).stderr)).toMatch(/! no worker is connected to queue redis:\/\/\*\*\*@127\.0\.0\.1:\d+\/\d+ yet/);
    // Its view said the first node waited in the queue, then which worker took it.
    expect(String((await first).stdout)).toMatch(/src \(test-source\) queued\n(.*\n)*.*src \(test-source\) on w1/);
    // The worker finishes the task the dead coordinator enqueued; the new one waits for that job.
    const r = await runCli(['run', pipeline, '--cache', cache, '--executor', 'bullmq', '--queue', url], { cwd: dir, env });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/src \(test-source\) cached/);
    expect(await executionCounts(log)).toEqual({ src: 1, slow: 1, m: 1 });
    expect(statSync(join(dir, 'pipeline.lock')).isFile()).toBe(true);
  }, 120_000);

  it('workers sharing only a directory remote (a relative path): a node in a worker thread reads through and writes back', async () => {
    const dir = await makeTempDir();
    const url = nextUrl();
    const log = join(dir, 'runs.log');
    const pipeline = await writePipeline(dir, spinPipeline('remote-dir', 100));
    workers.push(startWorker(url, 'w1', { cwd: dir, log, args: ['--cache', 'worker-cache', '--remote', 'shared', '--plugin', TEST_PLUGIN] }));
    const r = await runCli(['run', pipeline, '--cache', 'coordinator-cache', '--executor', 'bullmq', '--queue', url, '--remote', 'shared'], { cwd: dir, env });
    expect(r.exitCode, r.stdout + r.stderr + workers[0].output()).toBe(0);
    expect(r.stdout).toMatch(/slow \(test-spin\) ran in .* on w1/);
    const lock = await lockfileOf(pipeline);
    const hashes = Object.values(lock.points.default.nodes).flatMap((n) => Object.values(n.outputs).map((o) => o.hash));
    // Every output is on the remote and, fetched, in the coordinator's cache; none of the worker's cache is shared.
    for (const h of hashes) {
      expect(statSync(join(dir, 'shared', 'objects', h.slice(0, 2), h.slice(2))).isFile()).toBe(true);
      expect(statSync(join(dir, 'coordinator-cache', 'objects', h.slice(0, 2), h.slice(2))).isFile()).toBe(true);
    }
    expect(await badObjects(join(dir, 'coordinator-cache'))).toEqual([]);
  }, 120_000);

  it('two coordinators sharing one Redis and one cache run each instance once', async () => {
    const dir = await makeTempDir();
    const url = nextUrl();
    const log = join(dir, 'runs.log');
    const cache = join(dir, 'cache');
    const grid = (name: string, offsets: string) => spinPipeline(name, 1500, `sweep: {grid: {m.offset: [${offsets}]}}`);
    const a = await writePipeline(dir, grid('a', '0, 1'), 'a.yaml');
    const b = await writePipeline(dir, grid('b', '1, 2'), 'b.yaml');
    workers.push(startWorker(url, 'w1', { cwd: dir, log, args: ['--cache', cache, '--plugin', TEST_PLUGIN, '--concurrency', '2'] }));
    const [ra, rb] = await Promise.all([a, b].map((p) => runCli(['run', p, '--cache', cache, '--executor', 'bullmq', '--queue', url], { cwd: dir, env })));
    expect(ra.exitCode, ra.stdout + ra.stderr).toBe(0);
    expect(rb.exitCode, rb.stdout + rb.stderr).toBe(0);
    expect(await executionCounts(log)).toEqual({ src: 1, slow: 1, m: 3 });
  }, 120_000);
});

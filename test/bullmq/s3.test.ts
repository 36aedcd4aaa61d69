// Workers that share nothing but an S3 bucket (s3rver on loopback) and the Redis queue: each has a
// cache of its own, reads its inputs through from the remote and pushes its outputs there before
// reporting; the coordinator fetches (and so checks) the outputs named in each completion.
import { existsSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Worker } from 'bullmq';
import { QUEUE_NAME, parseRedisUrl, redisOptions } from '../../src/runtime/execution/bullmq/connection.js';
import type { TaskMessage, TaskReply } from '../../src/runtime/execution/bullmq/message.js';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TEST_PLUGIN, assertCliBuilt, badObjects, executionCounts, linearPipeline, lockfileOf, makeTempDir, removeTempDirs, runCli, writePipeline } from '../helpers/runtime.js';
import { redisUnavailable, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { contract, startWorker, type PoolWorker } from '../helpers/worker-pool.js';
import { S3_KEY, startLocalS3, type LocalS3 } from '../sharing/s3-server.js';

const why = redisUnavailable();
if (why) console.warn(`skipping the worker pool S3 test: ${why}`);

describe.skipIf(why)('worker pool sharing only an S3 remote', () => {
  let redis: RedisServer;
  let s3: LocalS3;
  const workers: PoolWorker[] = [];
  beforeAll(async () => {
    assertCliBuilt();
    redis = (await startRedis())!;
    s3 = await startLocalS3(['team']);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });
  afterAll(async () => {
    await redis?.stop();
    await s3?.stop();
    await removeTempDirs();
  });

  it('outputs travel through the bucket; the lockfile equals a local run', async () => {
    const dir = await makeTempDir();
    const log = join(dir, 'runs.log');
    const config = join(dir, 'config.yaml');
    await writeFile(config, `remotes:\n  team:\n    type: s3\n    bucket: team\n    prefix: pool\n    endpoint: ${s3.endpoint}\n    force_path_style: true\n`);
    const env = {
      SIEVE_CONFIG: config, AWS_ACCESS_KEY_ID: S3_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_KEY.secretAccessKey, AWS_REGION: 'us-east-1',
      SIEVE_BULLMQ_POLL_MS: '200',
    };
    const grid = linearPipeline({ extra: 'sweep:\n  grid:\n    m.offset: [0, 1]' });
    const local = await writePipeline(dir, grid, 'local.yaml');
    const pool = await writePipeline(dir, grid, 'pool.yaml');
    expect((await runCli(['run', local, '--cache', join(dir, 'local')], { cwd: dir })).exitCode).toBe(0);
    const coordinator = ['--cache', join(dir, 'coordinator'), '--executor', 'bullmq', '--queue', redis.url, '--remote', 'team'];
    const worker = (name: string): PoolWorker =>
      startWorker(redis.url, name, { cwd: dir, log, env, args: ['--cache', join(dir, name), '--remote', 'team', '--plugin', TEST_PLUGIN] });

    // w1 alone computes the upstream part; then w2, with an empty cache of its own, the rest.
    workers.push(worker('w1'));
    const first = await runCli(['run', pool, ...coordinator, '--only', 'scaled'], { cwd: dir, env });
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    await workers.pop()!.stop();
    workers.push(worker('w2'));
    const r = await runCli(['run', pool, ...coordinator], { cwd: dir, env });
    expect(r.exitCode, r.stdout + r.stderr + workers[0].output()).toBe(0);
    expect(r.stdout).toContain('outputs through remote team');
    expect(r.stdout).toMatch(/m \(test-metrics\) \[m\.offset=0\] ran in .* on w2/);
    expect(contract(await lockfileOf(pool))).toEqual(contract(await lockfileOf(local)));
    expect(await executionCounts(log)).toEqual({ src: 1, scaled: 1, m: 2 });
    // Every output reached the bucket; nothing bad anywhere.
    const lock = await lockfileOf(pool);
    const puts = s3.requests.filter((q) => q.startsWith('PUT /team/pool/objects/')).length;
    const hashes = new Set(Object.values(lock.points).flatMap((p) => Object.values(p.nodes).flatMap((n) => Object.values(n.outputs).map((o) => o.hash))));
    expect(puts).toBeGreaterThanOrEqual(hashes.size);
    for (const c of ['coordinator', 'w1', 'w2']) expect(await badObjects(join(dir, c))).toEqual([]);
  }, 120_000);

  it('a completion whose outputs are not on the remote is not trusted', async () => {
    const dir = await makeTempDir();
    const config = join(dir, 'config.yaml');
    await writeFile(config, `remotes:\n  team:\n    type: s3\n    bucket: team\n    prefix: liar\n    endpoint: ${s3.endpoint}\n    force_path_style: true\n`);
    const env = { SIEVE_CONFIG: config, AWS_ACCESS_KEY_ID: S3_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_KEY.secretAccessKey, AWS_REGION: 'us-east-1', SIEVE_BULLMQ_POLL_MS: '200' };
    const url = redis.url.replace(/\/0$/, '/2');
    // A worker that reports every task done with an output it never stored.
    const liar = new Worker<TaskMessage, TaskReply>(QUEUE_NAME, async (job) => ({
      status: 'ran', worker: 'liar', remote: 'team',
      action: { key: job.data.key, type: job.data.node.type, version: job.data.node.version, outputs: { x: { hash: 'b'.repeat(64), size: 16, kind: 'tensor', dtype: 'float32', shape: [4] } }, deps: [], notes: {}, durationMs: 1 },
    }), { connection: redisOptions(parseRedisUrl(url)) });
    try {
      const pipeline = await writePipeline(dir, ['name: liar', 'seed: 1', `plugins: [${JSON.stringify(TEST_PLUGIN)}]`, 'nodes:', '  src: {type: test-source, params: {n: 4}}', ''].join('\n'));
      const r = await runCli(['run', pipeline, '--cache', join(dir, 'cache'), '--executor', 'bullmq', '--queue', url, '--remote', 'team'], { cwd: dir, env });
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(/src \(test-source\) failed: worker liar reported it done, but output x is not on remote team as named/);
      expect(existsSync(join(dir, 'cache', 'actions'))).toBe(true);
      expect(readdirSync(join(dir, 'cache', 'actions'))).toEqual([]);
    } finally {
      await liar.close();
    }
  }, 60_000);
});

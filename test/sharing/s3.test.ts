// The S3 remote against a real S3-compatible server (s3rver) on loopback: multipart upload, a
// missing bucket, wrong credentials, interrupted push and pull that resume, and the CLI with a
// remote named in the user config file.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteError } from '../../src/runtime/remotes/remote.js';
import { S3Remote, type S3RemoteOptions } from '../../src/runtime/remotes/s3.js';
import { pull, push, wantedObjects } from '../../src/runtime/sharing/sync.js';
import { verifyRemote } from '../../src/runtime/store/maintenance.js';
import { Store } from '../../src/runtime/store/store.js';
import { assertCliBuilt, makeTempDir, objectFiles, removeTempDirs, runCli } from '../helpers/runtime.js';
import { expectAllCached, producePipeline, sharingPipeline } from './helpers.js';
import { S3_KEY, startLocalS3, type LocalS3 } from './s3-server.js';

let s3: LocalS3;
beforeAll(async () => {
  assertCliBuilt();
  s3 = await startLocalS3(['team']);
});
afterAll(async () => {
  await s3?.stop();
  await removeTempDirs();
});

const remoteAt = (prefix: string, extra: Partial<S3RemoteOptions> = {}): S3Remote =>
  new S3Remote({ bucket: 'team', prefix, endpoint: s3.endpoint, forcePathStyle: true, credentials: S3_KEY, maxAttempts: 1, ...extra });

describe('S3 remote (s3rver on loopback)', () => {
  it('multipart push, pull into an empty cache with zero executions, and a second push that sends nothing', async () => {
    const a = await makeTempDir('sieve-s3-a-');
    const { path, lock } = await producePipeline(a, join(a, 'cache'), sharingPipeline({ mb: 12 }));
    const remote = remoteAt('lab/run1', { partSize: 5 * 1024 * 1024 });
    const first = await push(new Store(join(a, 'cache')), remote, lock, { jobs: 2 });
    expect(first.transferred).toBe(5);
    const big = lock.points[Object.keys(lock.points)[0]].nodes.big.outputs.x;
    expect(big.size).toBeGreaterThan(10 * 1024 * 1024);
    // The 12 MiB object went up as a multipart upload of three 5 MiB-at-most parts.
    const key = `/team/lab/run1/objects/${big.hash.slice(0, 2)}/${big.hash.slice(2)}`;
    expect(s3.requests.filter((r) => r.startsWith(`POST ${key}?uploads`))).toHaveLength(1);
    expect(s3.requests.filter((r) => r.startsWith(`PUT ${key}?`) && /partNumber=/.test(r))).toHaveLength(3);
    expect(s3.requests.filter((r) => r.startsWith(`POST ${key}?uploadId=`))).toHaveLength(1);
    const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3_KEY });
    const head = await client.send(new HeadObjectCommand({ Bucket: 'team', Key: `lab/run1/objects/${big.hash.slice(0, 2)}/${big.hash.slice(2)}` }));
    client.destroy();
    expect(head.ContentLength).toBe(big.size);
    const second = await push(new Store(join(a, 'cache')), remote, lock);
    expect(second.transferred).toBe(0);
    expect(second.alreadyThere).toBe(5);

    const b = await makeTempDir('sieve-s3-b-');
    await writeFile(join(b, 'pipeline.yaml'), await readFile(path));
    await writeFile(join(b, 'pipeline.lock'), await readFile(join(a, 'pipeline.lock')));
    const pulled = await pull(new Store(join(b, 'cache')), remote, lock, {
      origin: { kind: 'remote', source: remote.describe(), pipeline: join(b, 'pipeline.yaml') },
    });
    expect(pulled.transferred).toBe(5);
    expect(pulled.transferredBytes).toBe(wantedObjects(lock).reduce((s, w) => s + w.size, 0));
    const { stale, executed } = await expectAllCached(join(b, 'pipeline.yaml'), join(b, 'cache'), join(b, 'run.log'));
    expect(stale).toEqual([]);
    expect(executed).toEqual([]);
    expect((await verifyRemote(remote, new Store(join(b, 'cache')))).bad).toEqual([]);
    await remote.close();
  });

  it('a missing bucket and wrong credentials are clear errors naming the bucket and endpoint', async () => {
    const a = await makeTempDir('sieve-s3-err-');
    const { lock } = await producePipeline(a, join(a, 'cache'));
    const noBucket = new S3Remote({ bucket: 'no-such-bucket', endpoint: s3.endpoint, credentials: S3_KEY, maxAttempts: 1 });
    const e1 = await push(new Store(join(a, 'cache')), noBucket, lock).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(RemoteError);
    expect((e1 as Error).message).toBe(`remote s3://no-such-bucket at ${s3.endpoint}: check the bucket: bucket "no-such-bucket" does not exist at ${s3.endpoint}`);
    const badKey = remoteAt('x', { credentials: { accessKeyId: 'NOPE', secretAccessKey: 'wrong' } });
    const e2 = await pull(new Store(join(a, 'other-cache')), badKey, lock).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(RemoteError);
    expect((e2 as Error).message).toMatch(new RegExp(`credentials refused by ${s3.endpoint} for bucket "team"`));
    expect(await objectFiles(join(a, 'other-cache'))).toEqual([]);
  });

  it('an interrupted push and an interrupted pull resume without resending what arrived', async () => {
    const a = await makeTempDir('sieve-s3-int-');
    const { lock } = await producePipeline(a, join(a, 'cache'), sharingPipeline({ mb: 2 }));
    const remote = remoteAt('interrupted');
    const stopPush = new AbortController();
    const cut = await push(new Store(join(a, 'cache')), remote, lock, {
      jobs: 1, signal: stopPush.signal, onProgress: (p) => p.objectsDone >= 2 && stopPush.abort(new Error('interrupted')),
    }).catch((e: unknown) => e);
    expect((cut as Error).message).toBe('interrupted');
    const resumed = await push(new Store(join(a, 'cache')), remote, lock, { jobs: 1 });
    expect(resumed.alreadyThere).toBe(2);
    expect(resumed.transferred).toBe(3);

    const b = await makeTempDir('sieve-s3-int-b-');
    const stopPull = new AbortController();
    const cutPull = await pull(new Store(join(b, 'cache')), remote, lock, {
      jobs: 1, signal: stopPull.signal, onProgress: (p) => p.objectsDone >= 3 && stopPull.abort(new Error('interrupted')),
    }).catch((e: unknown) => e);
    expect((cutPull as Error).message).toBe('interrupted');
    // Nothing entered the cache yet (a pull commits only when all of it checked out) ...
    expect(await objectFiles(join(b, 'cache'))).toEqual([]);
    const again = await pull(new Store(join(b, 'cache')), remote, lock, { jobs: 1 });
    // ... but the verified downloads were kept aside and are not fetched again.
    expect(again.resumed).toBe(3);
    expect(again.transferred).toBe(2);
    expect((await objectFiles(join(b, 'cache'))).length).toBe(5);
    await remote.close();
  });

  it('CLI: a remote named in the user config, credentials from the environment, verify --remote', async () => {
    const a = await makeTempDir('sieve-s3-cli-');
    const { path } = await producePipeline(a, join(a, 'cache'));
    const config = join(a, 'config.yaml');
    await writeFile(config, `remotes:\n  team:\n    type: s3\n    bucket: team\n    prefix: cli\n    endpoint: ${s3.endpoint}\n    force_path_style: true\ndefault_remote: team\n`);
    const env = { SIEVE_CONFIG: config, AWS_ACCESS_KEY_ID: S3_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_KEY.secretAccessKey, AWS_REGION: 'us-east-1' };
    const pushed = await runCli(['push', path, '--cache', 'cache'], { cwd: a, env });
    expect(pushed.stderr).not.toMatch(/error/);
    expect(pushed.exitCode).toBe(0);
    expect(pushed.stdout).toMatch(new RegExp(`pushed 5 object\\(s\\).*0 of 5 already on s3://team/cli at ${s3.endpoint.replace(/\./g, '\\.')}`));
    const verified = await runCli(['verify', '--remote', 'team', '--cache', 'cache'], { cwd: a, env });
    expect(verified.stdout).toContain('5 object(s) checked on s3://team/cli');
    expect(verified.exitCode).toBe(0);
    const b = await makeTempDir('sieve-s3-cli-b-');
    await writeFile(join(b, 'pipeline.yaml'), await readFile(path));
    await writeFile(join(b, 'pipeline.lock'), await readFile(join(a, 'pipeline.lock')));
    const pulled = await runCli(['pull', 'pipeline.yaml', '--cache', 'cache', '--node', 'm2'], { cwd: b, env });
    expect(pulled.exitCode).toBe(0);
    expect(pulled.stdout).toMatch(/pulled 2 object\(s\).*2 node\(s\) restored/);
    const wrong = await runCli(['pull', 'pipeline.yaml', '--cache', 'cache2'], { cwd: b, env: { ...env, AWS_ACCESS_KEY_ID: 'NOT-A-KEY' } });
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toMatch(/credentials refused/);
  });
});

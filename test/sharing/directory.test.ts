// The directory remote, through the CLI as a teammate uses it: push, pull into an empty cache,
// zero executions; two pushers at once; selections; missing and corrupt remote objects.
import { mkdir, readdir, readFile, symlink, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryRemote } from '../../src/runtime/remotes/directory.js';
import { MissingOnRemoteError, PullRefusedError, pull, push, wantedObjects } from '../../src/runtime/sharing/sync.js';
import { verifyRemote } from '../../src/runtime/store/maintenance.js';
import { Store } from '../../src/runtime/store/store.js';
import { assertCliBuilt, makeTempDir, objectFiles, removeTempDirs, runCli, startCli } from '../helpers/runtime.js';
import { expectAllCached, producePipeline, sharingPipeline } from './helpers.js';

beforeAll(assertCliBuilt);
afterAll(removeTempDirs);

const remoteObjects = async (root: string): Promise<string[]> => (await objectFiles(root)).map((o) => o.hash).sort();

describe('directory remote', () => {
  it('push, then pull into an empty cache: status up to date, zero executions; second push sends nothing', async () => {
    const a = await makeTempDir('sieve-dir-a-');
    const remote = join(a, 'remote');
    const { path, lock } = await producePipeline(a, join(a, 'cache'), sharingPipeline({ remote: '{ type: directory, path: remote }' }));
    const first = await runCli(['push', path, '--cache', join(a, 'cache')], { cwd: a });
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toMatch(/pushed 5 object\(s\), .* MB\/s\); 0 of 5 already on/);
    expect(await remoteObjects(remote)).toEqual(wantedObjects(lock).map((w) => w.hash).sort());
    const second = await runCli(['push', path, '--cache', join(a, 'cache')], { cwd: a });
    expect(second.stdout).toMatch(/pushed 0 object\(s\).*5 of 5 already on/);

    // The teammate: the pipeline and lockfile from git, an empty cache.
    const b = await makeTempDir('sieve-dir-b-');
    await writeFile(join(b, 'pipeline.yaml'), await readFile(path));
    await writeFile(join(b, 'pipeline.lock'), await readFile(join(a, 'pipeline.lock')));
    const pulled = await runCli(['pull', 'pipeline.yaml', '--remote', remote, '--cache', 'cache'], { cwd: b });
    expect(pulled.exitCode).toBe(0);
    expect(pulled.stdout).toMatch(/pulled 5 object\(s\).*5 node\(s\) restored as cache hits/);
    const { stale, executed } = await expectAllCached(join(b, 'pipeline.yaml'), join(b, 'cache'), join(b, 'run.log'));
    expect(stale).toEqual([]);
    expect(executed).toEqual([]);
    const status = await runCli(['status', 'pipeline.yaml', '--cache', 'cache'], { cwd: b });
    expect(status.stdout).toContain('everything is up to date');
  });

  it('two teammates pushing at once leave a complete, uncorrupted remote', async () => {
    const remote = join(await makeTempDir('sieve-dir-shared-'), 'remote');
    const teams = await Promise.all(
      [3, 4].map(async (factor) => {
        const dir = await makeTempDir('sieve-dir-pusher-');
        // The same 6 MB `big` object on both sides (written concurrently), plus each side's own.
        return { dir, ...(await producePipeline(dir, join(dir, 'cache'), sharingPipeline({ mb: 6, factor }))) };
      }),
    );
    const runs = teams.map((t) => startCli(['push', t.path, '--remote', remote, '--cache', join(t.dir, 'cache'), '-j', '4'], { cwd: t.dir }));
    const results = await Promise.all(runs);
    for (const r of results) expect(r.exitCode, String(r.stderr)).toBe(0);
    const expected = new Set(teams.flatMap((t) => wantedObjects(t.lock).map((w) => w.hash)));
    expect(await remoteObjects(remote)).toEqual([...expected].sort());
    const report = await verifyRemote(new DirectoryRemote(remote), new Store(join(teams[0].dir, 'cache')));
    expect(report.bad).toEqual([]);
    expect(report.checked).toBe(expected.size);
    expect(await readdir(join(remote, 'tmp'))).toEqual([]);
  });

  it('pushes one node and its ancestors; pulling another node names what the remote lacks', async () => {
    const a = await makeTempDir('sieve-dir-sel-');
    const remoteDir = join(a, 'remote');
    const { lock } = await producePipeline(a, join(a, 'cache'));
    const remote = new DirectoryRemote(remoteDir);
    const r = await push(new Store(join(a, 'cache')), remote, lock, { selection: { node: 'scaled' } });
    expect(r.transferred).toBe(2);
    const rec = lock.points[Object.keys(lock.points)[0]].nodes;
    expect(await remoteObjects(remoteDir)).toEqual([rec.big.outputs.x.hash, rec.scaled.outputs.y.hash].sort());

    const b = await makeTempDir('sieve-dir-sel-b-');
    const err = await pull(new Store(join(b, 'cache')), remote, lock, { selection: { node: 'm' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingOnRemoteError);
    expect((err as Error).message).toContain(`needed by node(s) m:`);
    expect((err as Error).message).toContain(rec.m.outputs.metrics.hash);
    expect(await objectFiles(join(b, 'cache'))).toEqual([]);
    // The part that is there can be pulled.
    const ok = await pull(new Store(join(b, 'cache')), remote, lock, { selection: { node: 'scaled' } });
    expect(ok.transferred).toBe(2);
    expect(ok.actionsRestored).toBe(2);
  });

  it('a corrupt, truncated or linked object on the remote is refused and nothing is kept; verify --remote names it', async () => {
    const a = await makeTempDir('sieve-dir-bad-');
    const remoteDir = join(a, 'remote');
    const { path, lock } = await producePipeline(a, join(a, 'cache'));
    const remote = new DirectoryRemote(remoteDir);
    await push(new Store(join(a, 'cache')), remote, lock);
    const rec = lock.points[Object.keys(lock.points)[0]].nodes;
    const scaledPath = join(remoteDir, 'objects', rec.scaled.outputs.y.hash.slice(0, 2), rec.scaled.outputs.y.hash.slice(2));
    const bytes = await readFile(scaledPath);
    bytes[100] ^= 1;
    await writeFile(scaledPath, bytes);

    const b = await makeTempDir('sieve-dir-bad-b-');
    const err = await pull(new Store(join(b, 'cache')), remote, lock).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PullRefusedError);
    expect((err as Error).message).toContain(`${rec.scaled.outputs.y.hash}: content hashes to`);
    expect(await objectFiles(join(b, 'cache'))).toEqual([]);
    expect(await readdir(join(b, 'cache', 'tmp'))).toEqual([]);

    const verify = await runCli(['verify', '--remote', remoteDir, '--cache', join(b, 'cache')], { cwd: a });
    expect(verify.exitCode).toBe(1);
    expect(verify.stdout).toContain(`bad ${rec.scaled.outputs.y.hash}: content hashes to`);
    expect(verify.stdout).toContain('5 object(s) checked');

    await writeFile(scaledPath, bytes.subarray(0, 1000));
    const trunc = await pull(new Store(join(b, 'cache')), remote, lock).catch((e: unknown) => e);
    expect((trunc as Error).message).toMatch(/1000 bytes arrived, the lockfile records \d+ \(truncated/);

    await rm(scaledPath);
    await mkdir(join(a, 'elsewhere'), { recursive: true });
    await writeFile(join(a, 'elsewhere', 'x'), bytes);
    await symlink(join(a, 'elsewhere', 'x'), scaledPath);
    const linked = await pull(new Store(join(b, 'cache')), remote, lock).catch((e: unknown) => e);
    expect((linked as Error).message).toMatch(/not a regular file \(a link or a directory\)/);
    expect(await objectFiles(join(b, 'cache'))).toEqual([]);
    // What has not the object's size (the link; a truncated upload) is replaced by the next push.
    const repaired = await push(new Store(join(a, 'cache')), remote, lock);
    expect(repaired.transferred).toBe(1);
    expect((await pull(new Store(join(b, 'cache')), remote, lock)).transferred).toBe(5);
    void path;
  });
});

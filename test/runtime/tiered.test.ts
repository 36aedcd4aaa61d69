// The tiered store: a local cache in front of a remote (a directory, and S3 on a local s3rver).
// With an empty local cache, a task whose inputs exist only on the remote reads them through
// (checked by hash, then kept locally) and writes its outputs back before it reports completion; a
// corrupt remote object is refused and never enters the local cache; the executor's cache-hit check
// counts objects that are only on the remote.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execute } from '../../src/runtime/execution/executor.js';
import { execTask, readTaskFile, taskFor, type TaskFile } from '../../src/runtime/execution/exec-task.js';
import type { RunEvent } from '../../src/runtime/execution/events.js';
import { remoteFromSpec } from '../../src/runtime/remotes/config.js';
import type { Remote } from '../../src/runtime/remotes/remote.js';
import type { RemoteRef, StoreDescription } from '../../src/runtime/store/description.js';
import { openStore } from '../../src/runtime/store/open.js';
import { Store, type ObjectRef } from '../../src/runtime/store/store.js';
import { TieredStore } from '../../src/runtime/store/tiered.js';
import { builtinRegistry } from '../../src/nodes/index.js';
import {
  PLUGINS_LINE, executionCounts, linearPipeline, makeTempDir, nodeEnds, objectFiles, planPipeline, removeTempDirs, runInProcess, statuses, writePipeline,
} from '../helpers/runtime.js';
import { S3_KEY, startLocalS3, type LocalS3 } from '../sharing/s3-server.js';

let s3: LocalS3;
const savedEnv: Record<string, string | undefined> = {};
beforeAll(async () => {
  s3 = await startLocalS3(['tier']);
  // The process that opens a tiered store takes S3 credentials from its own environment.
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) savedEnv[k] = process.env[k];
  process.env.AWS_ACCESS_KEY_ID = S3_KEY.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3_KEY.secretAccessKey;
});
afterAll(async () => {
  await s3?.stop();
  for (const [k, v] of Object.entries(savedEnv)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
});
afterEach(async () => {
  delete process.env.SIEVE_TEST_LOG;
  await removeTempDirs();
});

const quiet = { log: () => undefined };

interface Kind {
  name: string;
  /** The remote's settings, as a store description carries them (no credentials). */
  ref(dir: string, test: string): RemoteRef;
}

const kinds: Kind[] = [
  { name: 'directory', ref: (dir) => ({ type: 'directory', path: join(dir, 'remote') }) },
  { name: 's3', ref: (_dir, test) => ({ type: 's3', bucket: 'tier', prefix: test, endpoint: s3.endpoint, force_path_style: true, max_attempts: 1 }) },
];

const remoteOf = (ref: RemoteRef): Remote => remoteFromSpec(ref as Record<string, never>, '/', 'test');

/** Runs the linear pipeline in cache `a` and uploads every object of it to the remote. */
async function producedOnRemote(dir: string, ref: RemoteRef) {
  const pipeline = await writePipeline(dir, linearPipeline());
  const local = await runInProcess(pipeline, { cache: join(dir, 'a'), lockfile: false });
  const remote = remoteOf(ref);
  await remote.connect();
  for (const o of await objectFiles(join(dir, 'a'))) await remote.put(o.hash, o.path, (await readFile(o.path)).byteLength);
  const ends = nodeEnds(local.events);
  const srcOut = ends.find((e) => e.node.nodeId === 'src')!.record!.outputs.x;
  return { pipeline, local, remote, ends, srcOut };
}

/** The task of node `scaled` with its input given as an object, in a store described by `store`. */
async function scaledTask(pipeline: string, dir: string, store: StoreDescription, input: ObjectRef): Promise<TaskFile> {
  const plan = await planPipeline(pipeline);
  const n = [...plan.nodes.values()].find((x) => x.nodeId === 'scaled')!;
  const t = taskFor(plan, n, { store, sieveVersion: 'test', cachedKeys: new Map(), resultPath: (id) => join(dir, `${id}.result.json`) });
  return { ...t, inputs: { x: { ref: input } } };
}

describe.each(kinds)('tiered store over a $name remote', (kind) => {
  it('a task with an empty local cache reads its input through from the remote and writes its output back', async () => {
    const dir = await makeTempDir('sieve-tiered-');
    const ref = kind.ref(dir, 'through');
    const { pipeline, remote, ends, srcOut } = await producedOnRemote(dir, ref);
    const local = new Store(join(dir, 'b'));
    const store: StoreDescription = { type: 'tiered', root: local.root, remote: ref };
    process.env.SIEVE_TEST_LOG = join(dir, 'runs.log');
    const r = await execTask(await scaledTask(pipeline, dir, store, srcOut), quiet);
    expect(r.status, r.error).toBe('ran');
    const want = ends.find((e) => e.node.nodeId === 'scaled')!;
    expect(r.key).toBe(want.key);
    expect(r.outputs).toEqual(want.record!.outputs);
    expect(await executionCounts(join(dir, 'runs.log'))).toEqual({ scaled: 1 });
    // Read through: the input is now in the local cache, whole.
    expect(local.hasIntact(srcOut)).toBe(true);
    expect(await local.check(srcOut.hash)).toBeUndefined();
    // Written back: the output is on the remote (before the task reported completion), and its action record is local only.
    const out = r.outputs!.y;
    expect([...(await remote.sizes([out.hash])).keys()]).toEqual([out.hash]);
    expect(local.getAction(r.key!)?.outputs.y).toEqual(out);
    await remote.close();
  });

  it('a corrupt object on the remote is refused and never enters the local cache', async () => {
    const dir = await makeTempDir('sieve-tiered-');
    const ref = kind.ref(dir, 'corrupt');
    const { pipeline, remote, srcOut } = await producedOnRemote(dir, ref);
    // The remote holds other bytes of the same size under the input's name.
    const bad = join(dir, 'bad.bin');
    await writeFile(bad, Buffer.alloc(srcOut.size, 7));
    await remote.put(srcOut.hash, bad, srcOut.size);
    const local = new Store(join(dir, 'b'));
    process.env.SIEVE_TEST_LOG = join(dir, 'runs.log');
    const r = await execTask(await scaledTask(pipeline, dir, { type: 'tiered', root: local.root, remote: ref }, srcOut), quiet);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/refused: its content hashes to/);
    expect(r.error).toContain(srcOut.hash.slice(0, 12));
    expect(local.hasIntact(srcOut)).toBe(false);
    expect(await objectFiles(local.root)).toEqual([]);
    expect(await executionCounts(join(dir, 'runs.log'))).toEqual({});
    // An object on neither tier is missing, by name.
    const gone = { ...srcOut, hash: 'f'.repeat(64) };
    const s = await openStore({ type: 'tiered', root: local.root, remote: ref });
    await expect(s.read(gone)).rejects.toThrow(/not in the local cache, and on the remote: not on the remote/);
    expect(await s.has(gone)).toBe(false);
    await s.close();
    await remote.close();
  });

  it('writes back objects already in the local tier that the remote lacks (a hit older than the remote)', async () => {
    const dir = await makeTempDir('sieve-tiered-');
    const ref = kind.ref(dir, 'writeback');
    const local = new Store(join(dir, 'b'));
    const older = await local.put(new TextEncoder().encode('computed before the remote was used'));
    const remote = remoteOf(ref);
    await remote.connect();
    expect((await remote.sizes([older.hash])).size).toBe(0);
    const tiered = new TieredStore(local.root, remote, ref);
    await tiered.writeBack([older]);
    expect([...(await remote.sizes([older.hash])).keys()]).toEqual([older.hash]);
    await tiered.writeBack([older]); // present: nothing to send, no error
    // An object this cache does not have cannot be sent: said, not swallowed.
    await expect(tiered.writeBack([{ hash: 'e'.repeat(64), size: 3 }])).rejects.toThrow(/could not be written back/);
    await tiered.close();
  });

  it('a truncated copy on the remote is not the object: no hit, and writing back replaces it', async () => {
    const dir = await makeTempDir('sieve-tiered-');
    const ref = kind.ref(dir, 'truncated');
    const local = new Store(join(dir, 'b'));
    const whole = await local.put(new TextEncoder().encode('an object whose upload was cut short'));
    const remote = remoteOf(ref);
    await remote.connect();
    const cut = join(dir, 'cut.bin');
    await writeFile(cut, (await local.read(whole)).subarray(0, 10));
    await remote.put(whole.hash, cut, 10);
    expect(await remote.sizes([whole.hash])).toEqual(new Map([[whole.hash, 10]]));
    const elsewhere = await openStore({ type: 'tiered', root: join(dir, 'c'), remote: ref });
    expect(await elsewhere.has(whole)).toBe(false);
    const tiered = new TieredStore(local.root, remote, ref);
    await tiered.writeBack([whole]);
    expect(await remote.sizes([whole.hash])).toEqual(new Map([[whole.hash, whole.size]]));
    expect(await elsewhere.has(whole)).toBe(true);
    expect(new TextDecoder().decode(await elsewhere.read(whole))).toBe('an object whose upload was cut short');
    await Promise.all([elsewhere.close(), tiered.close()]);
  });
});

describe('store descriptions', () => {
  it('carry no credentials: a remote given with any is refused when opened, and a malformed one is a usage error', async () => {
    const root = await makeTempDir('sieve-tiered-');
    const withKey = { type: 's3', bucket: 'tier', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } } as unknown as RemoteRef;
    await expect(openStore({ type: 'tiered', root, remote: withKey })).rejects.toThrow(/unknown setting\(s\) credentials/);
    await expect(openStore({ type: 'tiered', root } as unknown as StoreDescription)).rejects.toThrow(/a tiered store needs `remote`/);
    // A task file may carry either kind; a malformed one is refused by field.
    const pipeline = await writePipeline(root, linearPipeline());
    const plan = await planPipeline(pipeline);
    const tiered: StoreDescription = { type: 'tiered', root, remote: 'team' };
    const task = taskFor(plan, [...plan.nodes.values()][0], { store: tiered, sieveVersion: 'test', cachedKeys: new Map(), resultPath: (id) => join(root, id) });
    const file = join(root, 'task.json');
    await writeFile(file, JSON.stringify(task));
    expect(readTaskFile(file).store).toEqual(tiered);
    await writeFile(file, JSON.stringify({ ...task, store: { type: 'tiered', root } }));
    expect(() => readTaskFile(file)).toThrow(/store: a tiered store needs `remote`/);
    const local = await openStore({ type: 'local', root });
    expect(local).toBeInstanceOf(Store);
    expect(local.describe()).toEqual({ type: 'local', root });
  });
});

describe('the executor over a tiered store', () => {
  it('counts an object that is on the remote but not local as a cache hit, and reads it through when a node needs it', async () => {
    const dir = await makeTempDir('sieve-tiered-');
    const ref = kinds[0].ref(dir, '');
    const { pipeline, local, remote } = await producedOnRemote(dir, ref);
    expect(new TieredStore(join(dir, 'b'), remote, ref).describe()).toEqual({ type: 'tiered', root: join(dir, 'b'), remote: ref });
    // This machine has the action records (computed here) but none of the objects.
    const b = new Store(join(dir, 'b'));
    for (const key of await local.store.listActions()) await b.putAction(local.store.getAction(key)!);
    const store = new TieredStore(b.root, remoteOf(ref), ref);
    const log = join(dir, 'runs.log');
    process.env.SIEVE_TEST_LOG = log;
    const run = async (overrides: string[] = []) => {
      const events: RunEvent[] = [];
      const plan = await (await import('../../src/runtime/planning/plan.js')).loadPlan(pipeline, { registry: builtinRegistry(), overrides });
      await execute(plan, { store, jobs: 2, listeners: [{ onEvent: (e) => void events.push(e) }] });
      return events;
    };
    expect(statuses(await run())).toEqual({ src: 'cached', scaled: 'cached', m: 'cached' });
    expect(await objectFiles(b.root)).toEqual([]);
    // A changed downstream node runs here: its input comes from the remote, its outputs go back.
    const events = await run(['scaled.factor=5']);
    expect(statuses(events)).toEqual({ src: 'cached', scaled: 'ran', m: 'ran' });
    expect(await executionCounts(log)).toEqual({ scaled: 1, m: 1 });
    const produced = nodeEnds(events).filter((e) => e.status === 'ran').flatMap((e) => Object.values(e.record!.outputs).map((o) => o.hash));
    expect((await remote.sizes(produced)).size).toBe(produced.length);
    await store.close();
    await remote.close();
  });

  it('a worker-thread node over an S3 tiered store writes back, then reads through, opening the store from its description', async () => {
    const dir = await makeTempDir('sieve-tiered-');
    const ref = kinds[1].ref(dir, 'worker');
    const pipeline = await writePipeline(dir, [
      'name: w', 'seed: 1', PLUGINS_LINE, 'nodes:',
      '  src: {type: test-source, params: {n: 8, value: 2, step: 1}}',
      '  spin: {type: test-spin, inputs: {x: src}, params: {ms: 5}}', '',
    ].join('\n'));
    const log = join(dir, 'runs.log');
    process.env.SIEVE_TEST_LOG = log;
    const run = async (root: string, overrides: string[] = []) => {
      const events: RunEvent[] = [];
      const store = new TieredStore(root, remoteOf(ref), ref);
      const plan = await planPipeline(pipeline, { overrides });
      await execute(plan, { store, jobs: 2, listeners: [{ onEvent: (e) => void events.push(e) }] });
      await store.close();
      return events;
    };
    const first = await run(join(dir, 'a'));
    expect(statuses(first)).toEqual({ src: 'ran', spin: 'ran' });
    const remote = remoteOf(ref);
    await remote.connect();
    const outputs = nodeEnds(first).flatMap((e) => Object.values(e.record!.outputs).map((o) => o.hash));
    expect((await remote.sizes(outputs)).size).toBe(2);
    // Another machine: the records, none of the objects; spin (a worker thread) reads src from S3.
    const b = new Store(join(dir, 'b'));
    const a = new Store(join(dir, 'a'));
    for (const key of await a.listActions()) await b.putAction(a.getAction(key)!);
    const second = await run(b.root, ['spin.add=3']);
    expect(statuses(second)).toEqual({ src: 'cached', spin: 'ran' });
    expect(await executionCounts(log)).toEqual({ src: 1, spin: 2 });
    const src = nodeEnds(first).find((e) => e.node.nodeId === 'src')!.record!.outputs.x;
    expect(b.hasIntact(src)).toBe(true);
    const spun = nodeEnds(second).find((e) => e.node.nodeId === 'spin')!.record!.outputs.y;
    expect((await remote.sizes([spun.hash])).has(spun.hash)).toBe(true);
    await remote.close();
  });
});

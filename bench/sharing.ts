// Sharing benchmarks: push and pull throughput (MB/s) of a 500 MB cache (50 MB with --quick) to a
// directory remote and to a local S3-compatible server (s3rver on loopback), and the time of a
// second push when nothing changed (only the "what is already there" check).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { NodeRecord } from '../src/runtime/execution/events.js';
import { DirectoryRemote } from '../src/runtime/remotes/directory.js';
import type { Remote } from '../src/runtime/remotes/remote.js';
import { S3Remote } from '../src/runtime/remotes/s3.js';
import { LOCKFILE_VERSION, type Lockfile } from '../src/runtime/results/lockfile.js';
import { pull, push } from '../src/runtime/sharing/sync.js';
import { Store } from '../src/runtime/store/store.js';
import { S3_KEY, startLocalS3 } from '../test/sharing/s3-server.js';
import type { BenchOptions, BenchRow } from './types.js';

/** Fills a cache with random objects of `objectMb` each and a lockfile naming them all. */
async function makeCache(dir: string, totalMb: number, objectMb: number): Promise<{ store: Store; lock: Lockfile; bytes: number }> {
  const store = new Store(dir);
  const nodes: Record<string, NodeRecord> = {};
  let bytes = 0;
  for (let i = 0; i * objectMb < totalMb; i++) {
    const { hash, size } = await store.put(randomBytes(objectMb * 1024 * 1024));
    bytes += size;
    nodes[`n${i}`] = {
      key: hash, type: 'bench', version: '1', params: {}, seed: 0, inputs: {}, deps: [], notes: {}, ms: 0,
      outputs: { x: { hash, size, kind: 'tensor', dtype: 'uint8', shape: [size] } },
    };
  }
  return { store, bytes, lock: { version: LOCKFILE_VERSION, pipeline: 'bench', sieve: 'bench', points: { default: { assignments: {}, nodes } } } };
}

async function measure(label: string, remote: Remote, workDir: string, src: { store: Store; lock: Lockfile; bytes: number }): Promise<BenchRow[]> {
  const mb = src.bytes / 1e6;
  const pushed = await push(src.store, remote, src.lock, { jobs: 8 });
  const again = await push(src.store, remote, src.lock, { jobs: 8 });
  if (again.transferred !== 0) throw new Error(`second push to ${label} sent ${again.transferred} object(s)`);
  const pulled = await pull(new Store(join(workDir, `pull-${label}`)), remote, src.lock, { jobs: 8 });
  if (pulled.transferred !== Object.keys(src.lock.points.default.nodes).length) throw new Error(`pull from ${label} moved ${pulled.transferred} object(s)`);
  await remote.close();
  return [
    { bench: 'sharing', metric: `push ${mb.toFixed(0)} MB to ${label}`, value: mb / (pushed.ms / 1000), unit: 'MB/s' },
    { bench: 'sharing', metric: `second push, nothing changed (${label})`, value: again.ms, unit: 'ms', target: '< 2000 ms', ok: again.ms < 2000 },
    { bench: 'sharing', metric: `pull ${mb.toFixed(0)} MB from ${label} (verified)`, value: mb / (pulled.ms / 1000), unit: 'MB/s' },
  ];
}

export async function benchSharing(opts: BenchOptions): Promise<BenchRow[]> {
  const totalMb = opts.quick ? 50 : 500;
  const src = await makeCache(join(opts.workDir, 'cache'), totalMb, opts.quick ? 5 : 10);
  const rows = await measure('directory remote', new DirectoryRemote(join(opts.workDir, 'remote')), opts.workDir, src);
  const s3 = await startLocalS3(['bench']);
  try {
    const remote = new S3Remote({ bucket: 'bench', prefix: 'sieve', endpoint: s3.endpoint, forcePathStyle: true, credentials: S3_KEY, partSize: 8 * 1024 * 1024 });
    rows.push(...(await measure('local S3 (s3rver)', remote, opts.workDir, src)));
  } finally {
    await s3.stop();
  }
  return rows;
}

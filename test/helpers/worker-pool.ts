// Helpers of the worker-pool tests: `sieve worker` as a child process, and what a pool run must
// share with a local one.
import type { Lockfile } from '../../src/runtime/results/lockfile.js';
import { TEST_PLUGIN, startCli } from './runtime.js';

/** point → node → key and output hashes: what must be equal between a local and a pool run. */
export function contract(lock: Lockfile): Record<string, Record<string, { key: string; outputs: Record<string, string> }>> {
  return Object.fromEntries(
    Object.entries(lock.points).map(([point, p]) => [
      point,
      Object.fromEntries(Object.entries(p.nodes).map(([id, r]) => [id, { key: r.key, outputs: Object.fromEntries(Object.entries(r.outputs).map(([k, o]) => [k, o.hash])) }])),
    ]),
  );
}

export interface PoolWorker {
  name: string;
  /** Its output so far. */
  output(): string;
  pid: number;
  /** SIGTERM, then waits for it to exit. */
  stop(): Promise<void>;
  exited: Promise<unknown>;
}

/** Starts `sieve worker` with the test node types; SIEVE_TEST_LOG counts what it runs. */
export function startWorker(url: string, name: string, opts: { cwd: string; log?: string; args?: string[]; env?: Record<string, string> }): PoolWorker {
  const child = startCli(['worker', '--name', name, ...(opts.args ?? ['--plugin', TEST_PLUGIN])], {
    cwd: opts.cwd, log: opts.log, env: { SIEVE_REDIS_URL: url, SIEVE_WORKER_LOCK_MS: '1000', ...opts.env },
  });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  return {
    name, output: () => out, pid: child.pid!,
    exited: child,
    stop: async () => {
      child.kill('SIGTERM');
      await child;
    },
  };
}

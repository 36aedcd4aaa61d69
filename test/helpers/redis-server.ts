// A real Redis for the worker-pool tests: Debian's `redis-server` on a free loopback port, with its
// data (an append-only file, fsynced on every write, so a restart keeps the queue) in a temp dir.
// `startRedis` returns undefined when the binary is missing (`redisUnavailable` says why) and throws
// when it is there but does not come up; `stop` ends exactly the process it started and removes
// its dir; `restart` stops it and starts it again on the same port and data.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, processAlive } from './slurm-cluster.js';

export interface RedisServer {
  port: number;
  /** redis://[:password@]127.0.0.1:PORT/0 */
  url: string;
  dir: string;
  pid(): number | undefined;
  /** Stops the server (SIGTERM, then SIGKILL) and starts it again on the same port and data. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function redisBinary(): string | undefined {
  for (const dir of ['/usr/bin', '/usr/sbin', '/usr/local/bin', ...(process.env.PATH ?? '').split(':')]) {
    if (dir && existsSync(join(dir, 'redis-server'))) return join(dir, 'redis-server');
  }
  return undefined;
}

/** Why the Redis tests cannot run here, or undefined when they can. */
export function redisUnavailable(): string | undefined {
  return redisBinary() ? undefined : "redis-server not found: install Debian's redis-server (.ci/run does)";
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function launch(binary: string, port: number, dir: string, password: string | undefined): Promise<ChildProcess> {
  const child = spawn(binary, [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--save', '',
    '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'yes', '--loglevel', 'notice',
    ...(password ? ['--requirepass', password] : []),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start within 15 s:\n${out}`));
    }, 15_000);
    const onData = (b: Buffer): void => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`));
    });
  });
}

async function end(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || !processAlive(pid)) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  if (processAlive(pid)) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Starts a server; with `password`, clients must authenticate (the URL carries it). */
export async function startRedis(opts: { password?: string } = {}): Promise<RedisServer | undefined> {
  const binary = redisBinary();
  if (!binary) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'sieve-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  try {
    child = await launch(binary, port, dir, opts.password);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    port, dir, url: `redis://${opts.password ? `:${encodeURIComponent(opts.password)}@` : ''}127.0.0.1:${port}/0`,
    pid: () => child?.pid,
    restart: async (downMs = 1000) => {
      if (child) await end(child);
      child = undefined;
      await sleep(downMs);
      child = await launch(binary, port, dir, opts.password);
    },
    stop: async () => {
      if (child) await end(child);
      child = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

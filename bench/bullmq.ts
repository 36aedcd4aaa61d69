// Worker pool benchmark (issue 14), on a local redis-server (skipped without it):
//  1. per-task overhead: a grid of 200 trivial instances (one test-source, 199 test-metrics points)
//     run by the coordinator over 2 workers sharing its cache, against the same grid run locally;
//     both in tasks/s, each into an empty cache (workers started beforehand: their start-up is not
//     counted);
//  2. the quickstart grid over 1 worker, then over 2 (each with concurrency 1): the speed-up, with
//     the local run (`--jobs 2`) beside it. On a 2-core machine the coordinator, both workers and
//     Redis share the same two cores.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { redisUnavailable, startRedis } from '../test/helpers/redis-server.js';
import type { BenchOptions, BenchRow } from './types.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const plugin = join(repo, 'test/fixtures/test-nodes.mjs');
const cli = join(repo, 'bin/sieve.cjs');

function gridPipeline(points: number): string {
  return [
    'name: trivial-grid', 'seed: 1', `plugins: [${JSON.stringify(plugin)}]`, 'nodes:',
    '  src: {type: test-source, params: {n: 4}}',
    '  m: {type: test-metrics, inputs: {x: src}}',
    `sweep: {grid: {m.offset: [${Array.from({ length: points }, (_, i) => i).join(', ')}]}}`, '',
  ].join('\n');
}

export async function benchBullmq(opts: BenchOptions): Promise<BenchRow[]> {
  const why = redisUnavailable();
  if (why) {
    process.stderr.write(`bench bullmq: skipped (${why})\n`);
    return [];
  }
  const redis = (await startRedis())!;
  const rows: BenchRow[] = [];
  let db = 0;
  const env = { ...process.env, NO_COLOR: '1' };
  const time = async (args: string[]): Promise<number> => {
    const t0 = performance.now();
    const r = await execa('node', [cli, ...args], { cwd: opts.workDir, env, reject: false });
    if (r.exitCode !== 0) throw new Error(`sieve ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
    return performance.now() - t0;
  };
  /** Times a pool run of `pipeline` into a fresh cache and database over `n` workers. */
  const pool = async (pipeline: string, n: number, tag: string): Promise<number> => {
    const url = redis.url.replace(/\/0$/, `/${++db}`);
    const cache = join(opts.workDir, `${tag}-cache`);
    const workers: ResultPromise[] = [];
    for (let i = 0; i < n; i++) {
      workers.push(execa('node', [cli, 'worker', '--queue', url, '--cache', cache, '--plugin', plugin, '--name', `w${i + 1}`], { cwd: opts.workDir, env, reject: false }));
    }
    try {
      await new Promise((r) => setTimeout(r, 1500)); // the workers' start-up
      return await time(['run', pipeline, '--cache', cache, '--executor', 'bullmq', '--queue', url]);
    } finally {
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers);
    }
  };
  try {
    const points = opts.quick ? 49 : 199;
    const grid = join(opts.workDir, 'grid.yaml');
    await writeFile(grid, gridPipeline(points));
    const tasks = points + 1;
    const local = await time(['run', grid, '--cache', join(opts.workDir, 'local-grid'), '--jobs', '2']);
    const overPool = await pool(grid, 2, 'pool-grid');
    rows.push({ bench: 'bullmq', metric: `${tasks} trivial instances over 2 workers`, value: (tasks / overPool) * 1000, unit: 'tasks/s', baseline: (tasks / local) * 1000, ratio: local / overPool });
    rows.push({ bench: 'bullmq', metric: 'overhead per task vs local', value: (overPool - local) / tasks, unit: 'ms' });

    const quickstart = join(repo, 'pipelines/quickstart.yaml');
    const copy = join(opts.workDir, 'quickstart.yaml');
    await writeFile(copy, (await import('node:fs')).readFileSync(quickstart, 'utf8'));
    const qLocal = await time(['run', copy, '--cache', join(opts.workDir, 'local-qs'), '--jobs', '2']);
    const one = await pool(copy, 1, 'qs-1');
    const two = await pool(copy, 2, 'qs-2');
    rows.push({ bench: 'bullmq', metric: 'quickstart grid, 1 worker', value: one, unit: 'ms', baseline: qLocal, ratio: one / qLocal });
    rows.push({ bench: 'bullmq', metric: 'quickstart grid, 2 workers (speed-up over 1)', value: two, unit: 'ms', baseline: one, ratio: one / two });
  } finally {
    await redis.stop();
  }
  return rows;
}

// Slurm executor benchmark (issue 13), on the one-machine test cluster (skipped without slurm-wlm):
//  1. a trivial three-node pipeline (test-source → test-scale → test-metrics), from `sieve run
//     --executor slurm --wait` to its end, against the same pipeline run locally (`sieve run`), each
//     into an empty cache: the difference per job is the executor's overhead (sbatch, scheduling,
//     a Node start and a `sieve exec-task` per job);
//  2. the number of jobs the quickstart grid submits (each unique instance once), against the
//     number of node executions its grid names (points × nodes).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { builtinRegistry } from '../src/nodes/index.js';
import { Slurm } from '../src/runtime/execution/slurm/commands.js';
import { submitPlan } from '../src/runtime/execution/slurm/submission.js';
import { loadPlan } from '../src/runtime/planning/plan.js';
import { Store } from '../src/runtime/store/store.js';
import { slurmUnavailable, startSlurmCluster } from '../test/helpers/slurm-cluster.js';
import type { BenchOptions, BenchRow } from './types.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const plugin = join(repo, 'test/fixtures/test-nodes.mjs');
const cli = join(repo, 'bin/sieve.cjs');

const PIPELINE = [
  'name: trivial', 'seed: 1', `plugins: [${JSON.stringify(plugin)}]`, 'nodes:',
  '  src: {type: test-source, params: {n: 4}}',
  '  scaled: {type: test-scale, inputs: {x: src}}',
  '  m: {type: test-metrics, inputs: {x: scaled}}', '',
].join('\n');

export async function benchSlurm(opts: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // Jobs of the quickstart grid: sbatch answered by a stub, nothing runs.
  let next = 1;
  const stub = new Slurm(async (command) => ({ code: 0, stdout: command === 'sbatch' ? `${next++}\n` : '', stderr: '' }));
  const plan = await loadPlan(join(repo, 'pipelines/quickstart.yaml'), { registry: builtinRegistry() });
  const s = await submitPlan(plan, {
    store: new Store(join(opts.workDir, 'count-cache')), slurm: stub, settings: {}, sieveVersion: 'bench', workDir: opts.workDir, sieveCommand: ['node', cli],
  });
  const executions = plan.points.length * plan.file.nodes.length;
  const jobs = Object.keys(s.jobs).length;
  rows.push({ bench: 'slurm', metric: 'quickstart grid: jobs submitted', value: jobs, unit: 'jobs', baseline: executions, ratio: jobs / executions, target: 'one per unique instance' , ok: jobs === plan.nodes.size });

  const why = slurmUnavailable();
  if (why) {
    process.stderr.write(`bench slurm: no cluster (${why}): only the job count\n`);
    return rows;
  }
  const cluster = (await startSlurmCluster())!;
  try {
    const env = { ...process.env, ...cluster.env, SIEVE_SLURM_POLL_MS: '200' };
    const pipeline = join(opts.workDir, 'trivial.yaml');
    await writeFile(pipeline, PIPELINE);
    const time = async (args: string[]): Promise<number> => {
      const t0 = performance.now();
      await execa('node', [cli, ...args], { cwd: opts.workDir, env });
      return performance.now() - t0;
    };
    const local: number[] = [];
    const slurm: number[] = [];
    const reps = opts.quick ? 1 : 3;
    for (let i = 0; i < reps; i++) {
      local.push(await time(['run', pipeline, '--cache', join(opts.workDir, `local-${i}`)]));
      slurm.push(await time(['run', pipeline, '--cache', join(opts.workDir, `slurm-${i}`), '--executor', 'slurm', '--wait']));
    }
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const [l, sl] = [med(local), med(slurm)];
    rows.push({ bench: 'slurm', metric: 'trivial 3-node pipeline, submission to completion', value: sl, unit: 'ms', baseline: l, ratio: sl / l });
    rows.push({ bench: 'slurm', metric: 'overhead per job vs local', value: (sl - l) / 3, unit: 'ms' });
  } finally {
    await cluster.stop();
  }
  return rows;
}

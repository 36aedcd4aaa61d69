// Submitting without a cluster (Slurm's commands stubbed): the scripts a plan becomes, and which
// executor a run uses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/runtime/errors.js';
import { parseExecutorSpec, resolveExecutor } from '../../src/runtime/execution/executor-config.js';
import { Slurm, type CommandRunner } from '../../src/runtime/execution/slurm/commands.js';
import { submitPlan } from '../../src/runtime/execution/slurm/submission.js';
import { Store } from '../../src/runtime/store/store.js';
import { linearPipeline, makeTempDir, planPipeline, removeTempDirs, writePipeline } from '../helpers/runtime.js';

afterEach(removeTempDirs);

/** sbatch answers with increasing job ids; every call is recorded. */
function stubSlurm(): { slurm: Slurm; calls: string[][] } {
  const calls: string[][] = [];
  let next = 100;
  const run: CommandRunner = async (command, args) => {
    calls.push([command, ...args]);
    if (command === 'sbatch') return { code: 0, stdout: `${next++}\n`, stderr: '' };
    return { code: 0, stdout: '', stderr: '' };
  };
  return { slurm: new Slurm(run), calls };
}

describe('Slurm submission (stubbed commands)', () => {
  it("a node's GPU hint in the pipeline becomes --gres=gpu:N in its job's script, with its other hints and the executor's settings", async () => {
    const dir = await makeTempDir();
    const pipeline = await writePipeline(
      dir,
      linearPipeline().replace('    params: { factor: 3 }', "    params: { factor: 3 }\n    resources: { gpus: 2, memory: 12G, cpus: 4, time: '2:00:00' }"),
    );
    const { slurm, calls } = stubSlurm();
    const s = await submitPlan(await planPipeline(pipeline), {
      store: new Store(join(dir, 'cache')), slurm, sieveVersion: '9.9.9', workDir: dir, sieveCommand: ['/usr/bin/node', '/opt/sieve/bin/sieve.cjs'],
      settings: { partition: 'gpu', account: 'lab', time: 30, extra_args: ['--constraint=a100'] },
      finalArgs: (file) => ['run', 'x.yaml', '--collect', file],
    });
    const jobs = Object.values(s.jobs);
    expect(jobs.map((j) => [j.nodeId, j.jobId])).toEqual([['src', '100'], ['scaled', '101'], ['m', '102']]);
    expect(s.final?.jobId).toBe('103');
    const scaled = readFileSync(jobs[1].script, 'utf8');
    expect(scaled).toContain('#SBATCH --gres=gpu:2\n');
    expect(scaled).toContain('#SBATCH --cpus-per-task=4\n');
    expect(scaled).toContain('#SBATCH --mem=12288M\n');
    expect(scaled).toContain('#SBATCH --time=02:00:00\n');
    expect(scaled).toContain('#SBATCH --partition=gpu\n#SBATCH --account=lab\n');
    expect(scaled).toContain('#SBATCH --dependency=afterok:100\n');
    expect(scaled).toContain('#SBATCH --constraint=a100\n');
    expect(scaled).toContain('export SIEVE_SUBMIT_VERSION=9.9.9\n');
    expect(scaled).toContain(`export SIEVE_SUBMIT_NODE=${process.version}\n`);
    expect(scaled).toContain(`exec /usr/bin/node /opt/sieve/bin/sieve.cjs exec-task ${jobs[1].task}\n`);
    // No GPU where none was asked for; the executor's default time where the node has none.
    const src = readFileSync(jobs[0].script, 'utf8');
    expect(src).not.toContain('--gres');
    expect(src).toContain('#SBATCH --time=00:30:00\n');
    expect(src).not.toContain('--dependency');
    const final = readFileSync(s.final!.script, 'utf8');
    expect(final).toContain('#SBATCH --dependency=afterany:100:101:102\n');
    expect(calls.filter((c) => c[0] === 'sbatch')).toHaveLength(4);
  });

  it('a failed sbatch cancels the jobs already submitted: all or nothing', async () => {
    const dir = await makeTempDir();
    const calls: string[][] = [];
    let n = 0;
    const slurm = new Slurm(async (command, args) => {
      calls.push([command, ...args]);
      if (command === 'sbatch') return ++n < 3 ? { code: 0, stdout: `${n}\n`, stderr: '' } : { code: 1, stdout: '', stderr: 'sbatch: error: QOSMaxSubmitJobPerUserLimit' };
      return { code: 0, stdout: '', stderr: '' };
    });
    const err = await submitPlan(await planPipeline(await writePipeline(dir, linearPipeline())), {
      store: new Store(join(dir, 'cache')), slurm, sieveVersion: 't', workDir: dir, sieveCommand: ['node', 'sieve'], settings: {},
    }).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/QOSMaxSubmitJobPerUserLimit/);
    expect(calls.find((c) => c[0] === 'scancel')).toEqual(['scancel', '1', '2']);
  });
});

describe('which executor runs', () => {
  const slurm = (extra: Record<string, unknown> = {}) => parseExecutorSpec({ type: 'slurm', ...extra }, 'x.yaml');

  it('--executor, then the pipeline header, then the user config, else local', () => {
    expect(resolveExecutor({})).toEqual({ type: 'local' });
    expect(resolveExecutor({ user: slurm({ partition: 'u' }) })).toEqual({ type: 'slurm', partition: 'u' });
    expect(resolveExecutor({ pipeline: slurm({ partition: 'p' }), user: slurm({ partition: 'u' }) })).toEqual({ type: 'slurm', partition: 'p' });
    expect(resolveExecutor({ flag: 'local', pipeline: slurm() })).toEqual({ type: 'local' });
    // --executor slurm takes the settings of whichever section describes Slurm.
    expect(resolveExecutor({ flag: 'slurm', pipeline: { type: 'local' }, user: slurm({ qos: 'long' }) })).toEqual({ type: 'slurm', qos: 'long' });
    expect(() => resolveExecutor({ flag: 'kubernetes' })).toThrow(/--executor must be one of local, slurm/);
  });

  it('bad settings are usage errors naming the file and field', () => {
    expect(() => parseExecutorSpec({ type: 'slurm', partiton: 'x' }, 'p.yaml')).toThrow(/p\.yaml: unknown executor setting\(s\) partiton/);
    expect(() => parseExecutorSpec({ type: 'slurm', extra_args: '--x' }, 'p.yaml')).toThrow(UsageError);
    expect(() => parseExecutorSpec({ type: 'pbs' }, 'p.yaml')).toThrow(/executor\.type must be one of/);
    expect(slurm({ time: '1:00:00', extra_args: ['--exclusive'] })).toEqual({ type: 'slurm', time: '1:00:00', extra_args: ['--exclusive'] });
  });

  it('the pipeline header is checked by the pipeline schema, with its line', async () => {
    const dir = await makeTempDir();
    const path = await writePipeline(dir, linearPipeline().replace('seed: 7', 'seed: 7\nexecutor: {type: slurm, partition: 3}'));
    const err = await planPipeline(path).then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/:3:\d+: executor\.partition: /);
    const ok = await planPipeline(await writePipeline(dir, linearPipeline().replace('seed: 7', 'seed: 7\nexecutor: {type: slurm, partition: gpu}'), 'ok.yaml'));
    expect(ok.file.executor).toEqual({ type: 'slurm', partition: 'gpu' });
  });
});

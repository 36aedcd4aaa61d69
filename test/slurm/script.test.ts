// The batch script of a job and the parsing of Slurm's output (pure: no cluster needed).
import { describe, expect, it } from 'vitest';
import { parseSacct, parseSbatch, parseScontrolJob, parseSqueue, phaseOf } from '../../src/runtime/execution/slurm/parse.js';
import { sbatchOptions, sbatchScript, shellQuote, type JobSpec } from '../../src/runtime/execution/slurm/script.js';

const base: JobSpec = {
  name: 'sieve-quickstart-train',
  resources: { cpus: 1, memory: '2G' },
  settings: {},
  logPath: '/shared/cache/slurm/run1/logs/train-ab12.log',
  workDir: '/home/me/project',
  env: { SIEVE_SUBMIT_NODE: 'v20.19.0', SIEVE_SUBMIT_VERSION: '0.1.0' },
  command: ['/usr/bin/node', '/opt/sieve/bin/sieve.cjs', 'exec-task', '/shared/cache/slurm/run1/tasks/ab12.json'],
};

describe('sbatch script', () => {
  it('maps resource hints to --cpus-per-task, --mem, --gres and --time', () => {
    const lines = sbatchOptions({ ...base, resources: { cpus: 4, memory: '16G', gpus: 2, time: '1-00:00:00' } });
    expect(lines).toContain('#SBATCH --cpus-per-task=4');
    expect(lines).toContain('#SBATCH --mem=16384M');
    expect(lines).toContain('#SBATCH --gres=gpu:2');
    expect(lines).toContain('#SBATCH --time=1-00:00:00');
    expect(lines).toContain('#SBATCH --ntasks=1');
  });

  it('no GPU line without a GPU hint; no memory or time line without hints', () => {
    const lines = sbatchOptions({ ...base, resources: {} });
    expect(lines.filter((l) => /--gres|--mem|--time/.test(l))).toEqual([]);
    expect(lines).toContain('#SBATCH --cpus-per-task=1');
    expect(sbatchOptions({ ...base, resources: { gpus: 0 } }).some((l) => l.includes('--gres'))).toBe(false);
  });

  it('partition, account, qos, default time and extra args come from the executor settings; a node hint wins over the default time', () => {
    const settings = { partition: 'gpu', account: 'lab42', qos: 'normal', time: 90, extra_args: ['--constraint=a100', '--exclusive'] };
    const lines = sbatchOptions({ ...base, settings });
    expect(lines).toEqual(expect.arrayContaining([
      '#SBATCH --partition=gpu', '#SBATCH --account=lab42', '#SBATCH --qos=normal', '#SBATCH --time=01:30:00',
      '#SBATCH --constraint=a100', '#SBATCH --exclusive',
    ]));
    expect(sbatchOptions({ ...base, settings, resources: { time: 10 } })).toContain('#SBATCH --time=00:10:00');
    expect(() => sbatchOptions({ ...base, settings: { extra_args: ['rm -rf /'] } })).toThrow(/not an sbatch option/);
  });

  it('dependencies: afterok on upstream jobs, and cancelled when one fails', () => {
    const lines = sbatchOptions({ ...base, afterOk: ['12', '13'] });
    expect(lines).toContain('#SBATCH --dependency=afterok:12:13');
    expect(lines).toContain('#SBATCH --kill-on-invalid-dep=yes');
    expect(sbatchOptions({ ...base, afterAny: ['7'] })).toContain('#SBATCH --dependency=afterany:7');
    expect(sbatchOptions(base).some((l) => l.includes('--dependency'))).toBe(false);
  });

  it('names the Node and Sieve that submitted it, then execs the command, quoted', () => {
    const script = sbatchScript({ ...base, command: [...base.command.slice(0, 3), "/a dir/it's.json"] });
    expect(script.startsWith('#!/bin/bash\n#SBATCH --job-name=sieve-quickstart-train\n')).toBe(true);
    expect(script).toContain('export SIEVE_SUBMIT_NODE=v20.19.0\n');
    expect(script).toContain('export SIEVE_SUBMIT_VERSION=0.1.0\n');
    expect(script).toContain(`exec /usr/bin/node /opt/sieve/bin/sieve.cjs exec-task '/a dir/it'\\''s.json'\n`);
    expect(script).toContain('#SBATCH --output=/shared/cache/slurm/run1/logs/train-ab12.log');
    expect(shellQuote('$HOME')).toBe("'$HOME'");
  });

  it('paths with spaces are quoted in #SBATCH lines; a newline is refused', () => {
    expect(sbatchOptions({ ...base, workDir: '/home/me/my project' })).toContain('#SBATCH --chdir="/home/me/my project"');
    expect(() => sbatchOptions({ ...base, name: 'a\nb' })).toThrow(/span lines/);
  });
});

describe("Slurm's output", () => {
  it('sbatch --parsable', () => {
    expect(parseSbatch('1234\n')).toBe('1234');
    expect(parseSbatch('1234;cluster2\n')).toBe('1234');
    expect(() => parseSbatch('sbatch: error: Batch job submission failed')).toThrow(/no job id/);
  });

  it('squeue: states and reasons', () => {
    const jobs = parseSqueue('12|PENDING|Dependency\n13|PENDING|DependencyNeverSatisfied\n14|RUNNING|None\n15|COMPLETING|None\n\n');
    expect([...jobs.values()].map((j) => [j.id, j.phase, j.reason])).toEqual([
      ['12', 'queued', 'Dependency'], ['13', 'cancelled', 'DependencyNeverSatisfied'], ['14', 'running', undefined], ['15', 'running', undefined],
    ]);
  });

  it('sacct: allocations only, "CANCELLED by 0" is cancelled, exit codes kept', () => {
    const jobs = parseSacct('20|COMPLETED|0:0|None\n20.batch|COMPLETED|0:0|\n21|FAILED|1:0|NonZeroExitCode\n22|CANCELLED by 0|0:15|None\n23|TIMEOUT|0:0|TimeLimit\n24|OUT_OF_MEMORY|0:125|\n');
    expect([...jobs.values()].map((j) => [j.id, j.phase, j.exitCode])).toEqual([
      ['20', 'done', '0:0'], ['21', 'failed', '1:0'], ['22', 'cancelled', '0:15'], ['23', 'failed', '0:0'], ['24', 'failed', '0:125'],
    ]);
  });

  it('scontrol show job (as Slurm 22.05 prints it)', () => {
    const text = [
      'JobId=1 JobName=wrap',
      '   UserId=root(0) GroupId=root(0) MCS_label=N/A',
      '   Priority=4294901759 Nice=0 Account=(null) QOS=(null)',
      '   JobState=FAILED Reason=NonZeroExitCode Dependency=(null)',
      '   Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=1:0',
      '   Partition=debug AllocNode:Sid=localhost:6290',
      '   Command=/tmp/my dir/job.sh',
      '   StdOut=/tmp/slurm-1.out',
    ].join('\n');
    expect(parseScontrolJob(text)).toEqual({ id: '1', state: 'FAILED', phase: 'failed', reason: 'NonZeroExitCode', exitCode: '1:0' });
    expect(parseScontrolJob('slurm_load_jobs error: Invalid job id specified')).toBeUndefined();
  });

  it('every Slurm state has a phase', () => {
    expect(phaseOf('CONFIGURING')).toBe('queued');
    expect(phaseOf('COMPLETED')).toBe('done');
    expect(phaseOf('NODE_FAIL')).toBe('failed');
    expect(phaseOf('CANCELLED+')).toBe('cancelled');
  });
});

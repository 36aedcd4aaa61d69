// The one-machine Slurm cluster of the Slurm tests: a job runs within seconds, and stopping the
// cluster leaves none of its daemons running.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive, slurmUnavailable, startSlurmCluster, type SlurmCluster } from '../helpers/slurm-cluster.js';

const why = slurmUnavailable();
if (why) console.warn(`skipping the Slurm cluster tests: ${why}`);

describe.skipIf(why)('one-machine Slurm cluster', () => {
  let cluster: SlurmCluster;
  beforeAll(async () => {
    cluster = (await startSlurmCluster())!;
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('runs a batch job within seconds and stops every daemon it started', async () => {
    const env = { ...process.env, ...cluster.env };
    const out = join(cluster.dir, 'hello.out');
    const t0 = Date.now();
    const id = execFileSync('sbatch', ['--parsable', '-o', out, '--wrap', 'echo hello from $SLURM_JOB_ID'], { env, encoding: 'utf8' }).trim();
    expect(id).toMatch(/^\d+$/);
    while (execFileSync('squeue', ['-h', '-j', id, '-o', '%T'], { env, encoding: 'utf8' }).trim() !== '') {
      expect(Date.now() - t0, cluster.logs()).toBeLessThan(30_000);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(readFileSync(out, 'utf8')).toBe(`hello from ${id}\n`);
    expect(execFileSync('scontrol', ['show', 'job', id], { env, encoding: 'utf8' })).toMatch(/JobState=COMPLETED/);

    const pids = ['slurmd.pid', 'slurmctld.pid', 'munge/munged.pid'].map((f) => Number(readFileSync(join(cluster.dir, f), 'utf8')));
    await cluster.stop();
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
    expect(pids.every((p) => Number.isInteger(p) && p > 0)).toBe(true);
  }, 90_000);
});

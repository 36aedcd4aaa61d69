// `sieve run --executor slurm`: submit one job per instance the cache lacks and return (a last job
// writes the lockfile and results), or with --wait follow the jobs with the usual progress view and
// write them here. The last job itself is `sieve run ... --collect <submission>`.
import { isAbsolute, relative, resolve } from 'node:path';
import pc from 'picocolors';
import { sieveBinPath } from '../module-paths.js';
import type { ExecutorSpec } from '../runtime/execution/executor-config.js';
import { processRunner, Slurm } from '../runtime/execution/slurm/commands.js';
import { SlurmRunner } from '../runtime/execution/slurm/runner.js';
import { instanceIdentities, readSubmission, submitPlan, type Submission } from '../runtime/execution/slurm/submission.js';
import type { Plan } from '../runtime/planning/plan-types.js';
import { lockfilePath } from '../runtime/results/lockfile.js';
import type { Store } from '../runtime/store/store.js';
import { SIEVE_VERSION } from '../version.js';
import { runWith, type RunFlags } from './run-execute.js';

/** How often jobs are polled (ms); $SIEVE_SLURM_POLL_MS for tests and impatient users. */
function pollMs(): number {
  const v = Number(process.env.SIEVE_SLURM_POLL_MS);
  return Number.isFinite(v) && v >= 50 ? v : 2000;
}

/** The command line's planning flags, for the last job to plan the same grid. */
function planArgs(p: Plan, flags: RunFlags): string[] {
  const out: string[] = [];
  for (const v of flags.param ?? []) out.push('-p', v);
  for (const v of flags.grid ?? []) out.push('--grid', v);
  for (const v of flags.zip ?? []) out.push('--zip', v);
  if (flags.sweep === false) out.push('--no-sweep');
  for (const v of flags.plugin ?? []) out.push('--plugin', isAbsolute(v) ? v : resolve(v));
  for (const v of flags.only ?? []) out.push('--only', v);
  return out;
}

export async function slurmRun(p: Plan, store: Store, flags: RunFlags, spec: Extract<ExecutorSpec, { type: 'slurm' }>): Promise<number> {
  const slurm = new Slurm(processRunner());
  const follow = (submission: Submission): Promise<number> =>
    runWith(p, store, flags, { jobs: Math.max(1, Object.keys(submission.jobs).length), runner: new SlurmRunner({ store, slurm, submissions: [submission], identities: instanceIdentities(p), pollMs: pollMs() }) });
  if (flags.collect) return follow(readSubmission(resolve(flags.collect)));

  const { type: _type, ...settings } = spec;
  const submission = await submitPlan(p, {
    store, settings, slurm, sieveVersion: SIEVE_VERSION, targets: flags.only, workDir: process.cwd(),
    sieveCommand: [process.execPath, sieveBinPath()],
    finalArgs: flags.wait ? undefined : (file) => ['run', p.file.path, ...planArgs(p, flags), '--cache', store.root, '--executor', 'slurm', '--collect', file],
  });
  const jobs = Object.values(submission.jobs);
  const reused = Object.keys(submission.reused).length;
  const cached = Object.keys(submission.cached).length;
  if (jobs.length === 0 && reused === 0) {
    // Nothing to run: write the lockfile and results here, now.
    process.stdout.write(`${pc.green('nothing to submit')}: all ${cached} node instance(s) are in the cache\n`);
    return follow(submission);
  }
  const ids = jobs.map((j) => Number(j.jobId)).sort((a, b) => a - b);
  process.stdout.write(
    `submitted ${jobs.length} Slurm job(s)${ids.length ? ` (${ids[0]}${ids.length > 1 ? `–${ids[ids.length - 1]}` : ''})` : ''}` +
      `${cached ? `, ${cached} instance(s) already cached` : ''}${reused ? `, ${reused} shared with jobs already queued` : ''}\n` +
      `  logs: ${relative(process.cwd(), `${submission.dir}/logs`) || '.'}\n`,
  );
  if (!flags.wait) {
    process.stdout.write(
      `  job ${submission.final!.jobId} writes ${relative(process.cwd(), lockfilePath(p.file.path))} and the results when they have ended\n` +
        `  follow them with \`sieve status${p.file.path === resolve('pipelines/quickstart.yaml') ? '' : ` ${relative(process.cwd(), p.file.path)}`}\`\n`,
    );
    return 0;
  }
  return follow(submission);
}

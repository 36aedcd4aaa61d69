// What `sieve status` says about Slurm jobs: for each instance, the job of the newest submission
// that has one — queued, running, done or failed (from its result file, else from Slurm) — with its
// job id and log.
import { existsSync } from 'node:fs';
import type { Store } from '../../store/store.js';
import type { Slurm } from './commands.js';
import type { JobPhase } from './parse.js';
import { logTail, readResult, slurmDir, submissionsOf, type SubmittedJob } from './submission.js';

export interface JobStatus {
  jobId: string;
  phase: JobPhase | 'unknown';
  log: string;
  submission: string;
  /** Why it failed (its error, or Slurm's state), and the end of its log. */
  error?: string;
  tail?: string;
}

/** Jobs by instance id of `identities` (instance id → identity, see `instanceIdentities`). */
export async function jobStatuses(store: Store, pipelinePath: string, identities: ReadonlyMap<string, string>, slurm: Slurm): Promise<Map<string, JobStatus>> {
  const out = new Map<string, JobStatus>();
  if (!existsSync(slurmDir(store))) return out;
  const submissions = submissionsOf(store, pipelinePath);
  const jobs = new Map<string, { job: SubmittedJob; submission: string }>();
  const byIdentity = (s: (typeof submissions)[number], identity: string): SubmittedJob | undefined =>
    [...Object.values(s.jobs), ...Object.values(s.reused)].find((j) => j.identity === identity);
  for (const [id, identity] of identities) {
    for (const s of submissions) {
      const job = byIdentity(s, identity);
      if (job) {
        jobs.set(id, { job, submission: s.id });
        break;
      }
    }
  }
  const pending = [...jobs.values()].filter(({ job }) => !readResult(job)).map(({ job }) => job.jobId);
  const states = pending.length ? await slurm.states([...new Set(pending)]).catch(() => undefined) : new Map();
  for (const [id, { job, submission }] of jobs) {
    const result = readResult(job);
    const base = { jobId: job.jobId, log: job.log, submission };
    if (result) {
      out.set(id, result.status === 'failed' ? { ...base, phase: 'failed', error: result.error, tail: await logTail(job.log, 10) } : { ...base, phase: 'done' });
      continue;
    }
    const state = states?.get(job.jobId);
    if (!state) out.set(id, { ...base, phase: 'unknown' });
    else if (state.phase === 'failed' || state.phase === 'cancelled' || state.phase === 'done') {
      // Ended without a result: killed, timed out, or cancelled because an upstream job failed.
      out.set(id, { ...base, phase: state.phase === 'done' ? 'failed' : state.phase, error: `${state.state}${state.reason ? ` (${state.reason})` : ''}`, tail: await logTail(job.log, 10) });
    } else out.set(id, { ...base, phase: state.phase });
  }
  return out;
}

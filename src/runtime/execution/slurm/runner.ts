// Following submitted Slurm jobs as a runner: the executor walks the plan as for a local run, and
// for each instance that is not in the cache yet, `run` waits for its job (one `squeue` for all jobs
// per poll) and returns what the job stored, or fails with the job's state and the tail of its log.
// `sieve run --executor slurm --wait` uses it while the jobs run; the last job of a submission uses
// it once all have ended, to write the lockfile and results.
import { errorMessage } from '../../errors.js';
import type { Store } from '../../store/store.js';
import type { Runner, RunnerResult, RunnerTask } from '../runner.js';
import type { TaskHooks } from '../task.js';
import type { Slurm } from './commands.js';
import type { JobState } from './parse.js';
import { logTail, readResult, type Submission, type SubmittedJob } from './submission.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A failed, cancelled or lost job, with the end of its log. */
export class SlurmJobError extends Error {
  override name = 'SlurmJobError';
  constructor(readonly job: SubmittedJob, detail: string, readonly tail: string) {
    super(`${detail} (Slurm job ${job.jobId}, log ${job.log})${tail ? `\n--- last lines of its log:\n${tail}` : ''}`);
  }
}

/** Polls the states of every watched job at most once per interval, for all waiters at once. */
class JobWatcher {
  private readonly states = new Map<string, JobState>();
  private readonly watched = new Set<string>();
  private inflight: { ids: ReadonlySet<string>; done: Promise<void> } | undefined;
  private last = 0;

  constructor(private readonly slurm: Slurm, private readonly pollMs: number) {}

  /** The job's state as of a poll that asked about it, at most one interval old. */
  async state(jobId: string): Promise<JobState | undefined> {
    this.watched.add(jobId);
    if (this.states.has(jobId) && Date.now() - this.last < this.pollMs) return this.states.get(jobId);
    for (;;) {
      const poll = this.inflight ?? this.poll();
      await poll.done;
      if (poll.ids.has(jobId)) return this.states.get(jobId);
    }
  }

  private poll(): { ids: ReadonlySet<string>; done: Promise<void> } {
    const ids = new Set(this.watched);
    const done = (async () => {
      try {
        const states = await this.slurm.states([...ids]);
        for (const id of ids) {
          const s = states.get(id);
          if (s) this.states.set(id, s);
          else this.states.delete(id);
        }
      } finally {
        this.last = Date.now();
        this.inflight = undefined;
      }
    })();
    this.inflight = { ids, done };
    return this.inflight;
  }

  forget(jobId: string): void {
    this.watched.delete(jobId);
  }
}

export interface SlurmRunnerOptions {
  store: Store;
  slurm: Slurm;
  /** Submissions to look jobs up in, newest first. */
  submissions: readonly Submission[];
  /** The plan's instance identities (see `instanceIdentities`): jobs are matched by them. */
  identities: ReadonlyMap<string, string>;
  pollMs?: number;
}

export class SlurmRunner implements Runner {
  /** Every job is already submitted: the executor may wait for all of them at once. */
  readonly slots = 1_000_000;
  private readonly watcher: JobWatcher;
  private readonly pollMs: number;

  constructor(private readonly opts: SlurmRunnerOptions) {
    this.pollMs = opts.pollMs ?? 1000;
    this.watcher = new JobWatcher(opts.slurm, this.pollMs);
  }

  private jobOf(instanceId: string): SubmittedJob | undefined {
    const identity = this.opts.identities.get(instanceId);
    for (const s of this.opts.submissions) {
      const job = [...Object.values(s.jobs), ...Object.values(s.reused)].find((j) => j.identity === identity);
      if (job) return job;
    }
    return undefined;
  }

  async run(task: RunnerTask, hooks: TaskHooks): Promise<RunnerResult> {
    const job = this.jobOf(task.instanceId);
    if (!job) throw new Error(`no Slurm job was submitted for it: run \`sieve run --executor slurm\` again`);
    hooks.log(`Slurm job ${job.jobId}, log ${job.log}`);
    let lastPhase = '';
    const where = `Slurm job ${job.jobId}`;
    try {
      for (;;) {
        const result = readResult(job);
        if (result) {
          if (result.status === 'failed') throw new SlurmJobError(job, result.error ?? 'failed', await logTail(job.log));
          const action = result.key ? this.opts.store.getAction(result.key) : undefined;
          if (!action) throw new SlurmJobError(job, 'its job reported success, but its action record is not in the cache (is the cache on a shared filesystem?)', '');
          if (result.key !== task.key) {
            // Its node type resolved another key environment on the compute node than here.
            hooks.log(`keyed ${result.key!.slice(0, 12)} on ${result.host} (here: ${task.key.slice(0, 12)}); its key environment there: ${JSON.stringify(result.environment ?? {})}`);
          }
          hooks.where?.(where); // also when it ran between two polls
          return { outputs: action.outputs, notes: action.notes, action, ...(result.environment ? { environment: result.environment } : {}) };
        }
        if (hooks.signal.aborted) throw new Error('interrupted');
        const state = await this.watcher.state(job.jobId);
        // The result is written before the job ends: look again before calling an ended job lost.
        if (state && ['done', 'failed', 'cancelled'].includes(state.phase) && !readResult(job)) {
          const why = state.reason ? `${state.state}, ${state.reason}` : state.state;
          throw new SlurmJobError(job, `its job ended without a result (${why}${state.exitCode ? `, exit ${state.exitCode}` : ''})`, await logTail(job.log));
        }
        if (!state && !readResult(job)) {
          // Slurm forgot the job (it ended long ago, accounting is off): no result means it did not finish.
          throw new SlurmJobError(job, 'Slurm no longer knows its job, and it left no result', await logTail(job.log));
        }
        if (state && state.phase !== lastPhase) {
          lastPhase = state.phase;
          hooks.log(`Slurm job ${job.jobId}: ${state.phase}${state.reason ? ` (${state.reason})` : ''}`);
          // The view shows it queued while Slurm holds it, then the job that runs it.
          if (state.phase === 'queued') hooks.queued?.();
          if (state.phase === 'running') hooks.where?.(where);
        }
        if (state?.phase === 'running') {
          const m = /progress (\d+)(?:\/(\d+))?(?: (\S+))?\s*$/.exec(await logTail(job.log, 3).catch(() => ''));
          if (m) hooks.progress(Number(m[1]), m[2] === undefined ? undefined : Number(m[2]), m[3]);
        }
        await sleep(this.pollMs);
      }
    } catch (e) {
      if (e instanceof SlurmJobError) throw e;
      throw new Error(`following Slurm job ${job.jobId}: ${errorMessage(e)}`);
    } finally {
      this.watcher.forget(job.jobId);
    }
  }

  async close(): Promise<void> {}
}

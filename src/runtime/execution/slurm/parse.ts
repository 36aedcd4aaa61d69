// What Slurm's commands print, parsed: `sbatch --parsable`, `squeue`, `sacct` and `scontrol show
// job`, reduced to the few states a run cares about.

export type JobPhase = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobState {
  id: string;
  /** Slurm's own state (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...). */
  state: string;
  phase: JobPhase;
  /** Why it is pending, or why it ended (squeue's %r, scontrol's Reason). */
  reason?: string;
  /** `exit:signal`, as Slurm prints it. */
  exitCode?: string;
}

/** The job id `sbatch --parsable` printed (`123` or `123;cluster`). */
export function parseSbatch(stdout: string): string {
  const id = stdout.trim().split('\n').pop()?.split(';')[0].trim() ?? '';
  if (!/^\d+$/.test(id)) throw new Error(`sbatch printed no job id: ${JSON.stringify(stdout.trim())}`);
  return id;
}

/** A job's phase from Slurm's state (and its pending reason). */
export function phaseOf(state: string, reason?: string): JobPhase {
  const s = state.toUpperCase().split(/\s+/)[0].replace(/\+$/, '');
  switch (s) {
    case 'PENDING':
    case 'CONFIGURING':
    case 'REQUEUED':
    case 'REQUEUE_FED':
    case 'REQUEUE_HOLD':
    case 'RESV_DEL_HOLD':
    case 'SUSPENDED':
    case 'STOPPED':
      // Pending on a dependency that failed: it will never run (unless Slurm is told to kill it).
      return reason === 'DependencyNeverSatisfied' ? 'cancelled' : 'queued';
    case 'RUNNING':
    case 'COMPLETING':
    case 'SIGNALING':
    case 'STAGE_OUT':
    case 'RESIZING':
      return 'running';
    case 'COMPLETED':
      return 'done';
    case 'CANCELLED':
    case 'REVOKED':
      return 'cancelled';
    default:
      // FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, PREEMPTED, SPECIAL_EXIT
      return 'failed';
  }
}

/** `squeue -h -o '%i|%T|%r'`: id, state, reason, one job per line. */
export function parseSqueue(stdout: string): Map<string, JobState> {
  const out = new Map<string, JobState>();
  for (const line of stdout.split('\n')) {
    const [id, state, reason] = line.trim().split('|');
    if (!id || !state) continue;
    const r = reason && reason !== 'None' ? reason : undefined;
    out.set(id, { id, state, phase: phaseOf(state, r), reason: r });
  }
  return out;
}

/**
 * `sacct -n -P -X -o JobID,State,ExitCode,Reason`: one line per job (allocations only, `-X`);
 * `CANCELLED by 0` is CANCELLED.
 */
export function parseSacct(stdout: string): Map<string, JobState> {
  const out = new Map<string, JobState>();
  for (const line of stdout.split('\n')) {
    const [rawId, rawState, exitCode, reason] = line.trim().split('|');
    if (!rawId || !rawState || !/^\d+$/.test(rawId)) continue; // steps (123.batch) and array tasks are not ours
    const state = rawState.split(/\s+/)[0];
    const r = reason && reason !== 'None' ? reason : undefined;
    out.set(rawId, { id: rawId, state, phase: phaseOf(state, r), reason: r, exitCode: exitCode || undefined });
  }
  return out;
}

/** `scontrol show job ID` (or `-o`, one line): the Key=Value fields. */
export function parseScontrolFields(stdout: string): Record<string, string> {
  const fields: Record<string, string> = {};
  // Values run to the next ` Key=` (a few, like Command or WorkDir, may contain spaces).
  const re = /(?:^|\s)([A-Za-z][A-Za-z0-9_/:]*)=(.*?)(?=\s+[A-Za-z][A-Za-z0-9_/:]*=|\s*$)/gm;
  for (const m of stdout.matchAll(re)) if (!(m[1] in fields)) fields[m[1]] = m[2];
  return fields;
}

/** The state of the job `scontrol show job` describes, or undefined when it knows no such job. */
export function parseScontrolJob(stdout: string): JobState | undefined {
  const f = parseScontrolFields(stdout);
  if (!f.JobId || !f.JobState) return undefined;
  const reason = f.Reason && f.Reason !== 'None' ? f.Reason : undefined;
  return { id: f.JobId, state: f.JobState, phase: phaseOf(f.JobState, reason), reason, exitCode: f.ExitCode };
}

// Slurm's command-line tools, run as child processes: submit, query, cancel. Job states come from
// `squeue` while a job is known to the controller's queue, then from `sacct` where accounting is
// enabled, else from `scontrol show job` (which remembers a finished job for MinJobAge seconds).
import { execFile } from 'node:child_process';
import { parseSacct, parseSbatch, parseScontrolJob, parseSqueue, type JobState } from './parse.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one command (injectable, for tests without Slurm). */
export type CommandRunner = (command: string, args: readonly string[]) => Promise<CommandResult>;

export function processRunner(env?: NodeJS.ProcessEnv): CommandRunner {
  return (command, args) =>
    new Promise((resolve) => {
      execFile(command, [...args], { env: env ?? process.env, maxBuffer: 64 * 2 ** 20, timeout: 120_000 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 127) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) || (error && code === 127 ? error.message : '') });
      });
    });
}

/** A Slurm command failed (sbatch refused a job, the controller is unreachable...). */
export class SlurmCommandError extends Error {
  override name = 'SlurmCommandError';
  constructor(readonly command: string, readonly result: CommandResult) {
    super(`${command} failed (exit ${result.code}): ${(result.stderr || result.stdout).trim() || 'no output'}`);
  }
}

const TERMINAL = new Set(['done', 'failed', 'cancelled']);

export class Slurm {
  /** Final states already seen: a finished job does not change. */
  private readonly finished = new Map<string, JobState>();
  private accounting: boolean | undefined;

  constructor(private readonly run: CommandRunner = processRunner()) {}

  /** Submits a batch script; resolves to the job id. */
  async submit(scriptPath: string): Promise<string> {
    const r = await this.run('sbatch', ['--parsable', scriptPath]);
    if (r.code !== 0) throw new SlurmCommandError(`sbatch ${scriptPath}`, r);
    return parseSbatch(r.stdout);
  }

  async cancel(jobIds: readonly string[]): Promise<void> {
    if (jobIds.length === 0) return;
    const r = await this.run('scancel', [...jobIds]);
    if (r.code !== 0) throw new SlurmCommandError('scancel', r);
  }

  /** The states of these jobs; a job Slurm no longer knows is absent. */
  async states(jobIds: readonly string[]): Promise<Map<string, JobState>> {
    const out = new Map<string, JobState>();
    const ask = jobIds.filter((id) => {
      const f = this.finished.get(id);
      if (f) out.set(id, f);
      return !f;
    });
    for (let i = 0; i < ask.length; i += 500) {
      const chunk = ask.slice(i, i + 500);
      const r = await this.run('squeue', ['-h', '-o', '%i|%T|%r', '-j', chunk.join(',')]);
      // squeue fails (rather than printing nothing) when none of the ids is in the queue any more.
      if (r.code === 0) for (const [id, s] of parseSqueue(r.stdout)) if (chunk.includes(id)) out.set(id, s);
    }
    const gone = ask.filter((id) => !out.has(id) || TERMINAL.has(out.get(id)!.phase));
    if (gone.length > 0 && this.accounting !== false) {
      const r = await this.run('sacct', ['-n', '-P', '-X', '-o', 'JobID,State,ExitCode,Reason', '-j', gone.join(',')]);
      this.accounting = r.code === 0;
      if (r.code === 0) for (const [id, s] of parseSacct(r.stdout)) if (gone.includes(id)) out.set(id, s);
    }
    for (const id of gone) {
      if (out.has(id) && TERMINAL.has(out.get(id)!.phase)) continue;
      const r = await this.run('scontrol', ['show', 'job', '-o', id]);
      const s = r.code === 0 ? parseScontrolJob(r.stdout) : undefined;
      if (s) out.set(id, s);
    }
    for (const [id, s] of out) if (TERMINAL.has(s.phase)) this.finished.set(id, s);
    return out;
  }
}

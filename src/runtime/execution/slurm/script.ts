// The batch script of one Slurm job: `#SBATCH` options from the executor's settings and the node's
// resource hints, the environment naming the Node and Sieve that submitted it, then the command.
import { formatSlurmTime, memoryMb, timeMinutes, type ResourceHints } from '../../types/resources.js';

/** The executor's settings (`executor:` in the pipeline or the user config, or the command line). */
export interface SlurmSettings {
  partition?: string;
  account?: string;
  qos?: string;
  /** Default wall-time limit of every job (a node's own `time` hint wins). */
  time?: string | number;
  /** More `sbatch` options, one per item (`--constraint=a100`, `--exclude=node7`). */
  extra_args?: string[];
}

export interface JobSpec {
  name: string;
  resources: ResourceHints;
  settings: SlurmSettings;
  /** Jobs that must end successfully first (`--dependency=afterok:...`). */
  afterOk?: readonly string[];
  /** Jobs that must end, successfully or not (`--dependency=afterany:...`). */
  afterAny?: readonly string[];
  /** stdout and stderr of the job. */
  logPath: string;
  workDir: string;
  env: Record<string, string>;
  /** argv of the job's one command. */
  command: readonly string[];
}

/** Quotes a word for bash. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function option(name: string, value: string): string {
  if (/[\n\r]/.test(value)) throw new RangeError(`sbatch option ${name}: a value cannot span lines`);
  return `#SBATCH ${name}=${/\s/.test(value) ? `"${value.replace(/"/g, '\\"')}"` : value}`;
}

/** The `#SBATCH` lines of a job, in a fixed order. */
export function sbatchOptions(spec: JobSpec): string[] {
  const r = spec.resources;
  const s = spec.settings;
  const lines = [option('--job-name', spec.name), option('--output', spec.logPath), option('--chdir', spec.workDir)];
  lines.push(option('--ntasks', '1'), option('--cpus-per-task', String(r.cpus ?? 1)));
  if (r.memory !== undefined) lines.push(option('--mem', `${memoryMb(r.memory)}M`));
  if (r.gpus) lines.push(option('--gres', `gpu:${r.gpus}`));
  const time = r.time ?? s.time;
  if (time !== undefined) lines.push(option('--time', formatSlurmTime(timeMinutes(time))));
  if (s.partition) lines.push(option('--partition', s.partition));
  if (s.account) lines.push(option('--account', s.account));
  if (s.qos) lines.push(option('--qos', s.qos));
  const deps = [
    ...(spec.afterOk?.length ? [`afterok:${spec.afterOk.join(':')}`] : []),
    ...(spec.afterAny?.length ? [`afterany:${spec.afterAny.join(':')}`] : []),
  ];
  if (deps.length > 0) {
    lines.push(option('--dependency', deps.join(',')));
    // A job whose dependency failed is cancelled, not left pending forever (DependencyNeverSatisfied).
    lines.push(option('--kill-on-invalid-dep', 'yes'));
  }
  for (const extra of s.extra_args ?? []) {
    if (!/^--?[A-Za-z]/.test(extra)) throw new RangeError(`executor extra_args: "${extra}" is not an sbatch option (--name=value)`);
    const eq = extra.indexOf('=');
    lines.push(eq < 0 ? `#SBATCH ${extra}` : option(extra.slice(0, eq), extra.slice(eq + 1)));
  }
  return lines;
}

/** The whole batch script. */
export function sbatchScript(spec: JobSpec): string {
  return [
    '#!/bin/bash',
    ...sbatchOptions(spec),
    '',
    ...Object.entries(spec.env).map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new RangeError(`not an environment variable name: ${k}`);
      return `export ${k}=${shellQuote(v)}`;
    }),
    `exec ${spec.command.map(shellQuote).join(' ')}`,
    '',
  ].join('\n');
}

// Submitting a plan to Slurm: every wanted instance that is not already in the cache becomes one
// `sbatch` job running `sieve exec-task` on its task file, depending (afterok) on the jobs of its
// upstream instances; instances shared by grid points are one instance of the plan, hence one job.
// Everything a submission writes lives in the shared cache, under slurm/<id>/:
//   submission.json          the jobs: instance → job id, task, result and log paths
//   tasks/<instance>.json    what `sieve exec-task` runs
//   results/<instance>.json  what it wrote (key and outputs, or the error)
//   logs/<instance>.log, scripts/<instance>.sh   (instance ids are <node>#<n>; files say <node>_<n>)
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FileHasher, hashJson } from '../../keys/hash.js';
import { keyInstance, selectInstances, siteOf } from '../../keys/keys.js';
import type { Plan, PlannedNode } from '../../planning/plan-types.js';
import { writeFileAtomic } from '../../store/atomic-file.js';
import { type ObjectRef, type Store } from '../../store/store.js';
import { mergeResources } from '../../types/resources.js';
import { taskFor, type TaskResultFile } from '../exec-task.js';
import type { Slurm } from './commands.js';
import { sbatchScript, type SlurmSettings } from './script.js';

export const SUBMISSION_FORMAT = 'sieve-slurm-submission';

export interface SubmittedJob {
  jobId: string;
  instanceId: string;
  /** What the instance is, across plans (instance ids are only unique within one plan). */
  identity: string;
  nodeId: string;
  task: string;
  result: string;
  log: string;
  script: string;
}

export interface Submission {
  format: typeof SUBMISSION_FORMAT;
  version: 1;
  id: string;
  pipeline: string;
  createdAt: string;
  sieveVersion: string;
  submittedFrom: string;
  dir: string;
  /** Jobs by instance id. */
  jobs: Record<string, SubmittedJob>;
  /** Instances already in the cache when submitting (no job): instance id → key. */
  cached: Record<string, string>;
  /** Instances whose job another submission had queued or running (two grids sharing nodes): not submitted twice. */
  reused: Record<string, SubmittedJob>;
  /** The last job, that writes the lockfile and results (absent with --wait). */
  final?: { jobId: string; log: string; script: string };
}

export interface SubmitOptions {
  store: Store;
  settings: SlurmSettings;
  slurm: Slurm;
  sieveVersion: string;
  targets?: readonly string[];
  /** The jobs' working directory (where `sieve run` was started). */
  workDir: string;
  /** How a job starts Sieve: the Node binary and the CLI, absolute paths on the shared filesystem. */
  sieveCommand: readonly string[];
  /** Arguments (after `sieveCommand`) of the last job, which writes the lockfile and results; none: no last job. */
  finalArgs?: (submissionFile: string) => string[];
  fileHasher?: FileHasher;
}

export function slurmDir(store: Store): string {
  return join(store.root, 'slurm');
}

/**
 * The instances whose outputs are already in the cache, with their keys and outputs: those whose
 * key can be computed (every upstream is cached) and whose action is intact.
 */
export async function cachedInstances(
  plan: Plan, store: Store, hasher: FileHasher, wanted: ReadonlySet<string>,
): Promise<Map<string, { key: string; outputs: Record<string, ObjectRef> }>> {
  const known = new Map<string, { key: string; outputs: Record<string, ObjectRef> }>();
  for (const n of plan.nodes.values()) {
    if (!wanted.has(n.instanceId)) continue;
    const inputs: Record<string, string> = {};
    let ready = true;
    for (const [port, edge] of Object.entries(n.inputs)) {
      const up = known.get(edge.instanceId);
      if (!up) ready = false;
      else inputs[port] = up.outputs[edge.port].hash;
    }
    if (!ready) continue;
    // A missing external file or an environment that cannot be resolved here: the job reports it.
    const keyed = await keyInstance(siteOf(n, plan, store), inputs, hasher).catch(() => undefined);
    if (!keyed) continue;
    const key = keyed.key;
    const action = await store.usableHit(key, plan.file.path);
    if (action) known.set(n.instanceId, { key, outputs: action.outputs });
  }
  return known;
}

/**
 * Identities of a plan's instances that mean the same across plans (and grids): a hash of node id,
 * type, version, params, seed and the identities of its inputs.
 */
export function instanceIdentities(plan: Plan): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of plan.nodes.values()) {
    out.set(n.instanceId, hashJson({
      nodeId: n.nodeId, type: n.typeName, version: n.registered.node.version, params: n.params, seed: n.seed,
      inputs: Object.fromEntries(Object.entries(n.inputs).map(([k, e]) => [k, `${out.get(e.instanceId)}.${e.port}`])),
    }).slice(0, 24));
  }
  return out;
}

const safe = (s: string): string => s.replace(/[^A-Za-z0-9_.-]/g, '_');

/** Submits the jobs of every wanted instance the cache lacks; returns the submission (also written to its file). */
export async function submitPlan(plan: Plan, opts: SubmitOptions): Promise<Submission> {
  const { store, slurm } = opts;
  await store.init();
  const hasher = opts.fileHasher ?? new FileHasher(store.fileHashStatePath);
  if (!opts.fileHasher) await hasher.load();
  const wanted = selectInstances(plan, opts.targets);
  const cached = await cachedInstances(plan, store, hasher, wanted);
  await hasher.save().catch(() => undefined);
  const identities = instanceIdentities(plan);
  const live = await liveJobs(store, slurm, new Set([...wanted].filter((id) => !cached.has(id)).map((id) => identities.get(id)!)));

  const id = `${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
  const dir = join(slurmDir(store), id);
  for (const sub of ['tasks', 'results', 'logs', 'scripts']) mkdirSync(join(dir, sub), { recursive: true });
  const submission: Submission = {
    format: SUBMISSION_FORMAT, version: 1, id, pipeline: plan.file.path, createdAt: new Date().toISOString(),
    sieveVersion: opts.sieveVersion, submittedFrom: hostname(), dir, jobs: {},
    cached: Object.fromEntries([...cached].map(([k, v]) => [k, v.key])), reused: {},
  };
  const at = {
    store: store.describe(), sieveVersion: opts.sieveVersion,
    cachedKeys: new Map([...cached].map(([k, v]) => [k, v.key])),
    resultPath: (instanceId: string) => submission.reused[instanceId]?.result ?? join(dir, 'results', `${safe(instanceId)}.json`),
  };
  const env = { SIEVE_SUBMIT_NODE: process.version, SIEVE_SUBMIT_VERSION: opts.sieveVersion, SIEVE_SUBMIT_HOST: hostname() };
  const submitted: string[] = [];
  try {
    for (const n of plan.nodes.values()) {
      if (!wanted.has(n.instanceId) || cached.has(n.instanceId)) continue;
      const other = live.get(identities.get(n.instanceId)!);
      if (other) {
        submission.reused[n.instanceId] = other;
        continue;
      }
      const job = await submitInstance(plan, n, identities.get(n.instanceId)!, submission, at, env, opts);
      submission.jobs[n.instanceId] = job;
      submitted.push(job.jobId);
    }
    const file = join(dir, 'submission.json');
    const all = [...submitted, ...Object.values(submission.reused).map((j) => j.jobId)];
    if (opts.finalArgs && all.length > 0) {
      const script = join(dir, 'scripts', 'final.sh');
      const log = join(dir, 'logs', 'final.log');
      await writeFileAtomic(
        script,
        sbatchScript({
          name: `sieve-${safe(plan.file.name)}-results`, resources: { cpus: 1 }, settings: { ...opts.settings, time: opts.settings.time ?? 30 },
          afterAny: all, logPath: log, workDir: opts.workDir, env, command: [...opts.sieveCommand, ...opts.finalArgs(file)],
        }),
      );
      submission.final = { jobId: await slurm.submit(script), log, script };
    }
    await writeFileAtomic(file, `${JSON.stringify(submission, null, 1)}\n`);
  } catch (e) {
    // All or nothing: jobs of a submission that could not be completed are cancelled.
    await slurm.cancel(submitted).catch(() => undefined);
    throw e;
  }
  return submission;
}

async function submitInstance(
  plan: Plan, n: PlannedNode, identity: string, submission: Submission, at: Parameters<typeof taskFor>[2], env: Record<string, string>, opts: SubmitOptions,
): Promise<SubmittedJob> {
  const dir = submission.dir;
  const task = join(dir, 'tasks', `${safe(n.instanceId)}.json`);
  const script = join(dir, 'scripts', `${safe(n.instanceId)}.sh`);
  const log = join(dir, 'logs', `${safe(n.instanceId)}.log`);
  await writeFileAtomic(task, `${JSON.stringify(taskFor(plan, n, at), null, 1)}\n`);
  const jobOf = (id: string): string | undefined => (submission.jobs[id] ?? submission.reused[id])?.jobId;
  const afterOk = [...new Set(Object.values(n.inputs).map((e) => jobOf(e.instanceId)).filter((j): j is string => j !== undefined))];
  await writeFileAtomic(
    script,
    sbatchScript({
      name: `sieve-${safe(plan.file.name)}-${safe(n.nodeId)}`,
      resources: mergeResources(n.registered.node.resources, n.resources),
      settings: opts.settings, afterOk, logPath: log, workDir: opts.workDir, env,
      command: [...opts.sieveCommand, 'exec-task', task],
    }),
  );
  const jobId = await opts.slurm.submit(script);
  return { jobId, instanceId: n.instanceId, identity, nodeId: n.nodeId, task, result: at.resultPath(n.instanceId), log, script };
}

/** Jobs of earlier submissions (of any pipeline) for these instance identities that are queued or running and have no result yet. */
async function liveJobs(store: Store, slurm: Slurm, identities: ReadonlySet<string>): Promise<Map<string, SubmittedJob>> {
  const candidates = new Map<string, SubmittedJob>();
  for (const s of allSubmissions(store)) {
    for (const job of [...Object.values(s.jobs), ...Object.values(s.reused ?? {})]) {
      if (identities.has(job.identity) && !candidates.has(job.identity) && !readResult(job)) candidates.set(job.identity, job);
    }
  }
  if (candidates.size === 0) return candidates;
  const states = await slurm.states([...new Set([...candidates.values()].map((j) => j.jobId))]);
  for (const [id, job] of candidates) {
    const phase = states.get(job.jobId)?.phase;
    if (phase !== 'queued' && phase !== 'running') candidates.delete(id);
  }
  return candidates;
}

export function readSubmission(path: string): Submission {
  const s = JSON.parse(readFileSync(path, 'utf8')) as Submission;
  if (s.format !== SUBMISSION_FORMAT || s.version !== 1) throw new Error(`${path} is not a Sieve Slurm submission`);
  return s;
}

/** Every submission in the cache for this pipeline file, newest first. */
export function submissionsOf(store: Store, pipelinePath: string): Submission[] {
  return allSubmissions(store).filter((s) => s.pipeline === pipelinePath);
}

/** Every submission in the cache, newest first. */
export function allSubmissions(store: Store): Submission[] {
  const root = slurmDir(store);
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const out: Submission[] = [];
  for (const name of names.sort().reverse()) {
    try {
      out.push(readSubmission(join(root, name, 'submission.json')));
    } catch {
      // being written, or not a submission
    }
  }
  return out;
}

/** The result file of a job, when its task has finished. */
export function readResult(job: SubmittedJob): TaskResultFile | undefined {
  try {
    return JSON.parse(readFileSync(job.result, 'utf8')) as TaskResultFile;
  } catch {
    return undefined;
  }
}

/** The last `lines` lines of a log (read from its end: logs can be long). */
export async function logTail(path: string, lines = 20): Promise<string> {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return '';
  }
  const length = Math.min(size, 64 * 1024);
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, size - length);
    return buf.toString('utf8').split('\n').filter((l, i, all) => l.length > 0 || i < all.length - 1).slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}

// The Slurm executor on a real one-machine cluster (see helpers/slurm-cluster.ts): jobs per
// uncached instance with afterok dependencies, the same keys and outputs as a local run.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { processRunner, Slurm } from '../../src/runtime/slurm/commands.js';
import { readResult, submitPlan, type Submission } from '../../src/runtime/slurm/submission.js';
import { Store } from '../../src/runtime/store.js';
import type { Lockfile } from '../../src/runtime/lockfile.js';
import {
  CLI_ENTRY, assertCliBuilt, linearPipeline, lockfileOf, makeTempDir, nodeEnds, planPipeline, removeTempDirs, runCli, runInProcess,
  writePipeline,
} from '../helpers/runtime.js';
import { slurmUnavailable, startSlurmCluster, type SlurmCluster } from '../helpers/slurm-cluster.js';

const why = slurmUnavailable();
if (why) console.warn(`skipping the Slurm executor tests: ${why}`);

/** point → node → key and output hashes: what must be equal between a local and a Slurm run. */
function contract(lock: Lockfile): Record<string, Record<string, { key: string; outputs: Record<string, string> }>> {
  return Object.fromEntries(
    Object.entries(lock.points).map(([point, p]) => [
      point,
      Object.fromEntries(Object.entries(p.nodes).map(([id, r]) => [id, { key: r.key, outputs: Object.fromEntries(Object.entries(r.outputs).map(([k, o]) => [k, o.hash])) }])),
    ]),
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(why)('Slurm executor (real cluster)', () => {
  let cluster: SlurmCluster;
  let slurm: Slurm;
  beforeAll(async () => {
    assertCliBuilt();
    cluster = (await startSlurmCluster())!;
    slurm = new Slurm(processRunner({ ...process.env, ...cluster.env }));
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);
  afterEach(removeTempDirs);

  async function waitForJobs(s: Submission, timeoutMs = 120_000): Promise<void> {
    const ids = Object.values(s.jobs).map((j) => j.jobId);
    const until = Date.now() + timeoutMs;
    for (;;) {
      const states = await slurm.states(ids);
      if (ids.every((id) => ['done', 'failed', 'cancelled'].includes(states.get(id)?.phase ?? ''))) return;
      if (Date.now() > until) throw new Error(`jobs still running: ${JSON.stringify([...states.values()])}\n${cluster.logs()}`);
      await sleep(300);
    }
  }

  it('submits one job per instance, chained by afterok, and reaches the keys and outputs of a local run', async () => {
    const dir = await makeTempDir();
    const pipeline = await writePipeline(dir, linearPipeline({ extra: 'sweep:\n  grid:\n    m.offset: [0, 1]' }));
    const local = await runInProcess(pipeline, { cache: join(dir, 'local'), lockfile: false });
    const plan = await planPipeline(pipeline);
    const store = new Store(join(dir, 'cache'));
    const s = await submitPlan(plan, {
      store, settings: {}, slurm, sieveVersion: 'test', workDir: dir, sieveCommand: [process.execPath, CLI_ENTRY],
    });
    // src and scaled are shared by both points: 4 jobs, not 6.
    expect(Object.values(s.jobs).map((j) => j.nodeId).sort()).toEqual(['m', 'm', 'scaled', 'src']);
    await waitForJobs(s);
    const byNode = new Map(nodeEnds(local.events).map((e) => [e.node.instanceId, e]));
    for (const job of Object.values(s.jobs)) {
      const r = readResult(job);
      expect(r?.status, `${job.nodeId}: ${r?.error}`).toBe('ran');
      expect(r!.key).toBe(byNode.get(job.instanceId)!.key);
      expect(r!.outputs).toEqual(byNode.get(job.instanceId)!.record!.outputs);
      expect(existsSync(job.log)).toBe(true);
    }
    // Nothing left to submit.
    const again = await submitPlan(plan, { store, settings: {}, slurm, sieveVersion: 'test', workDir: dir, sieveCommand: [process.execPath, CLI_ENTRY] });
    expect(again.jobs).toEqual({});
    expect(Object.keys(again.cached)).toHaveLength(4);
  }, 180_000);

  const cli = (args: string[], cwd: string, log?: string) =>
    runCli(args, { cwd, log, env: { ...cluster.env, SIEVE_SLURM_POLL_MS: '300' } });

  it('sieve run --executor slurm --wait: the lockfile of a local run, written by the login process', async () => {
    const dir = await makeTempDir();
    const grid = linearPipeline({ extra: 'sweep:\n  grid:\n    m.offset: [0, 1]' });
    const localPipeline = await writePipeline(dir, grid, 'local.yaml');
    const slurmPipeline = await writePipeline(dir, grid, 'slurm.yaml');
    expect((await cli(['run', localPipeline, '--cache', join(dir, 'local')], dir)).exitCode).toBe(0);
    const r = await cli(['run', slurmPipeline, '--cache', join(dir, 'cache'), '--executor', 'slurm', '--wait'], dir);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/submitted 4 Slurm job\(s\)/);
    expect(contract(await lockfileOf(slurmPipeline))).toEqual(contract(await lockfileOf(localPipeline)));
  }, 180_000);

  it('without --wait it returns at once; the last job writes the lockfile', async () => {
    const dir = await makeTempDir();
    const pipeline = await writePipeline(dir, linearPipeline());
    const r = await cli(['run', pipeline, '--cache', join(dir, 'cache'), '--executor', 'slurm'], dir);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/submitted 3 Slurm job\(s\)/);
    expect(r.stdout).toMatch(/writes pipeline\.lock and the results when they have ended/);
    const until = Date.now() + 120_000;
    while (!existsSync(join(dir, 'pipeline.lock'))) {
      expect(Date.now() < until, cluster.logs()).toBe(true);
      await sleep(300);
    }
    const lock = await lockfileOf(pipeline);
    expect(Object.keys(lock.points.default.nodes)).toEqual(['src', 'scaled', 'm']);
    // Everything is cached now: nothing to submit, and the run completes here.
    const again = await cli(['run', pipeline, '--cache', join(dir, 'cache'), '--executor', 'slurm'], dir);
    expect(again.stdout).toMatch(/nothing to submit/);
  }, 180_000);
});

// The Slurm executor on a real one-machine cluster (see helpers/slurm-cluster.ts): jobs per
// uncached instance with afterok dependencies, the same keys and outputs as a local run.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { processRunner, Slurm } from '../../src/runtime/slurm/commands.js';
import { readResult, submitPlan, type Submission } from '../../src/runtime/slurm/submission.js';
import { Store } from '../../src/runtime/store.js';
import {
  CLI_ENTRY, assertCliBuilt, linearPipeline, makeTempDir, nodeEnds, planPipeline, removeTempDirs, runInProcess, writePipeline,
} from '../helpers/runtime.js';
import { slurmUnavailable, startSlurmCluster, type SlurmCluster } from '../helpers/slurm-cluster.js';

const why = slurmUnavailable();
if (why) console.warn(`skipping the Slurm executor tests: ${why}`);

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
});

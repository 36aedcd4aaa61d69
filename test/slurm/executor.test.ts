// The Slurm executor on a real one-machine cluster (see helpers/slurm-cluster.ts): jobs per
// uncached instance with afterok dependencies, the same keys and outputs as a local run.
import { copyFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { processRunner, Slurm } from '../../src/runtime/execution/slurm/commands.js';
import { readResult, submitPlan, type Submission } from '../../src/runtime/execution/slurm/submission.js';
import type { Lockfile } from '../../src/runtime/results/lockfile.js';
import { Store } from '../../src/runtime/store/store.js';
import {
  CLI_ENTRY, PLUGINS_LINE, REPO_ROOT, assertCliBuilt, badObjects, executionCounts, linearPipeline, lockfileOf, makeTempDir, nodeEnds,
  planPipeline, removeTempDirs, runCli, runInProcess, writePipeline,
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
    // The view names the job that ran each node.
    expect(r.stdout).toMatch(/✓ scaled \(test-scale\).* ran in .* on Slurm job \d+/);
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

  it('a failing node: its dependents are cancelled, --wait and status name it with its log; a rerun resubmits only what is missing', async () => {
    const dir = await makeTempDir();
    const yaml = (failing: boolean) => [
      'name: failing', 'seed: 1', PLUGINS_LINE, 'nodes:',
      '  src: {type: test-source, params: {n: 4}}',
      '  ok: {type: test-scale, inputs: {x: src}}',
      failing ? '  bad: {type: test-fail, inputs: {x: src}, params: {message: disk on fire}}' : '  bad: {type: test-scale, inputs: {x: src}, params: {factor: 5}}',
      '  after: {type: test-metrics, inputs: {x: bad}}', '',
    ].join('\n');
    const pipeline = await writePipeline(dir, yaml(true));
    const cache = join(dir, 'cache');
    const r = await cli(['run', pipeline, '--cache', cache, '--executor', 'slurm', '--wait'], dir);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/bad \(test-fail\) failed: disk on fire \(Slurm job \d+, log /);
    expect(r.stdout).toMatch(/last lines of its log:\n(.*\n)*.*bad: failed: disk on fire/);
    expect(r.stdout).toMatch(/after \(test-metrics\) skipped/);

    // Slurm cancels the dependent of the failed job on its next scheduling pass.
    const [sub] = readdirSync(join(cache, 'slurm'));
    const jobs = (JSON.parse(readFileSync(join(cache, 'slurm', sub, 'submission.json'), 'utf8')) as Submission).jobs;
    const after = Object.values(jobs).find((j) => j.nodeId === 'after')!;
    const until = Date.now() + 30_000;
    while ((await slurm.states([after.jobId])).get(after.jobId)?.phase !== 'cancelled') {
      expect(Date.now() < until).toBe(true);
      await sleep(300);
    }
    const status = await cli(['status', pipeline, '--cache', cache], dir);
    expect(status.stdout).toMatch(/bad: stale\n(.*\n)*? {4}slurm job \d+: failed: disk on fire, log \S+bad_0\.log/);
    expect(status.stdout).toMatch(/after: stale\n(.*\n)*? {4}slurm job \d+: cancelled: CANCELLED \(DependencyNeverSatisfied\)/);
    expect(status.stdout).toMatch(/ok: up to date\n {4}slurm job \d+: done/);
    const json = JSON.parse((await cli(['status', pipeline, '--cache', cache, '--json'], dir)).stdout) as { nodeId: string; job?: { phase: string } }[];
    expect(Object.fromEntries(json.map((l) => [l.nodeId, l.job?.phase]))).toEqual({ src: 'done', ok: 'done', bad: 'failed', after: 'cancelled' });

    await writePipeline(dir, yaml(false));
    const again = await cli(['run', pipeline, '--cache', cache, '--executor', 'slurm', '--wait'], dir);
    expect(again.exitCode, again.stdout).toBe(0);
    expect(again.stdout).toMatch(/submitted 2 Slurm job\(s\) \(\d+–\d+\), 2 instance\(s\) already cached/);
  }, 180_000);

  it('scancel mid-run leaves no partial object, and the next run resubmits the cancelled node', async () => {
    const dir = await makeTempDir();
    const log = join(dir, 'runs.log');
    const pipeline = await writePipeline(dir, [
      'name: cancel', 'seed: 1', PLUGINS_LINE, 'nodes:',
      '  src: {type: test-source, params: {n: 4}}',
      '  slow: {type: test-spin, inputs: {x: src}, params: {ms: 5000}}',
      '  m: {type: test-metrics, inputs: {x: slow}}', '',
    ].join('\n'));
    const cache = join(dir, 'cache');
    const r = await cli(['run', pipeline, '--cache', cache, '--executor', 'slurm'], dir, log);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const [sub] = readdirSync(join(cache, 'slurm'));
    const submission = JSON.parse(readFileSync(join(cache, 'slurm', sub, 'submission.json'), 'utf8')) as Submission;
    const slow = Object.values(submission.jobs).find((j) => j.nodeId === 'slow')!;
    const until = Date.now() + 60_000;
    while (!(existsSync(slow.log) && readFileSync(slow.log, 'utf8').includes('slow: running'))) {
      expect(Date.now() < until, cluster.logs()).toBe(true);
      await sleep(200);
    }
    expect((await slurm.states([slow.jobId])).get(slow.jobId)?.phase).toBe('running');
    await slurm.cancel([slow.jobId]);
    await waitForJobs({ ...submission, jobs: { ...submission.jobs, final: { ...slow, jobId: submission.final!.jobId } } });
    expect(await badObjects(cache)).toEqual([]);
    expect(readResult(slow)).toBeUndefined();
    // The last job wrote what it could: a lockfile without the cancelled node and its dependent.
    const status = await cli(['status', pipeline, '--cache', cache], dir);
    expect(status.stdout).toMatch(/slow: stale\n(.*\n)*? {4}slurm job \d+: cancelled/);

    const again = await cli(['run', pipeline, '--cache', cache, '--executor', 'slurm', '--wait'], dir, log);
    expect(again.exitCode, again.stdout).toBe(0);
    expect(again.stdout).toMatch(/submitted 2 Slurm job\(s\).*1 instance\(s\) already cached/);
    expect(await executionCounts(log)).toEqual({ src: 1, slow: 2, m: 1 });
    expect(await badObjects(cache)).toEqual([]);
  }, 180_000);

  it('two grids submitted at once into one cache run their shared nodes once', async () => {
    const dir = await makeTempDir();
    const log = join(dir, 'runs.log');
    const grid = (offsets: string) => [
      'name: shared', 'seed: 1', PLUGINS_LINE, 'nodes:',
      '  src: {type: test-source, params: {n: 4}}',
      '  slow: {type: test-spin, inputs: {x: src}, params: {ms: 2000}}',
      '  m: {type: test-metrics, inputs: {x: slow}}',
      `sweep: {grid: {m.offset: [${offsets}]}}`, '',
    ].join('\n');
    const a = await writePipeline(dir, grid('0, 1'), 'a.yaml');
    const b = await writePipeline(dir, grid('1, 2'), 'b.yaml');
    const cache = join(dir, 'cache');
    const ra = await cli(['run', a, '--cache', cache, '--executor', 'slurm'], dir, log);
    expect(ra.stdout).toMatch(/submitted 4 Slurm job\(s\)/);
    const rb = await cli(['run', b, '--cache', cache, '--executor', 'slurm', '--wait'], dir, log);
    expect(rb.exitCode, rb.stdout).toBe(0);
    // b shares src, slow and m.offset=1 with a (queued, running or already done): only m.offset=2 is its own.
    expect(rb.stdout).toMatch(/submitted 1 Slurm job\(s\).* shared with jobs already queued/);
    const until = Date.now() + 60_000;
    while (!existsSync(join(dir, 'a.lock'))) {
      expect(Date.now() < until).toBe(true);
      await sleep(300);
    }
    expect(await executionCounts(log)).toEqual({ src: 1, slow: 1, m: 3 });
    const la = contract(await lockfileOf(a));
    const lb = contract(await lockfileOf(b));
    expect(la['m.offset=1']).toEqual(lb['m.offset=1']);
  }, 180_000);

  it('the quickstart grid (two points) through Slurm: the lockfile of a local run, each shared instance one job', async () => {
    const dir = await makeTempDir();
    const local = join(dir, 'local.yaml');
    const viaSlurm = join(dir, 'slurm.yaml');
    copyFileSync(join(REPO_ROOT, 'pipelines/quickstart.yaml'), local);
    copyFileSync(join(REPO_ROOT, 'pipelines/quickstart.yaml'), viaSlurm);
    const grid = ['--no-sweep', '--grid', 'relabel.absorb=0.7,0.9'];
    expect((await cli(['run', local, ...grid, '--cache', join(dir, 'local-cache')], dir)).exitCode).toBe(0);
    const r = await cli(['run', viaSlurm, ...grid, '--cache', join(dir, 'cache'), '--executor', 'slurm', '--wait'], dir);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    // data, noise and select once; relabel, train, relabel2, train2 and evaluate per point.
    expect(r.stdout).toMatch(/submitted 13 Slurm job\(s\)/);
    expect(contract(await lockfileOf(viaSlurm))).toEqual(contract(await lockfileOf(local)));
  }, 300_000);
});

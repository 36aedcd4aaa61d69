// Shared pieces of the sharing tests: a pipeline with a few objects of real size, runs that
// return the lockfile, and an "everything is a cache hit" check through status and run.
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { lockfilePath, readLockfile, type Lockfile } from '../../src/runtime/results/lockfile.js';
import { pipelineStatus } from '../../src/runtime/results/status.js';
import { Store } from '../../src/runtime/store/store.js';
import { PLUGINS_LINE, executions, planPipeline, runInProcess, writePipeline } from '../helpers/runtime.js';

/** big (test-big, `mb` MB) → scaled → m, plus a small src → m2 branch. */
export function sharingPipeline(opts: { mb?: number; factor?: number; remote?: string } = {}): string {
  return [
    'name: share',
    'seed: 3',
    PLUGINS_LINE,
    ...(opts.remote ? [`remote: ${opts.remote}`] : []),
    'nodes:',
    `  big: { type: test-big, params: { mb: ${opts.mb ?? 1} } }`,
    `  scaled: { type: test-scale, inputs: { x: big }, params: { factor: ${opts.factor ?? 3} } }`,
    '  m: { type: test-metrics, inputs: { x: scaled } }',
    '  src: { type: test-source, params: { n: 8, step: 1 } }',
    '  m2: { type: test-metrics, inputs: { x: src } }',
    '',
  ].join('\n');
}

export async function producePipeline(dir: string, cache: string, yaml = sharingPipeline()): Promise<{ path: string; lock: Lockfile }> {
  const path = await writePipeline(dir, yaml);
  const r = await runInProcess(path, { cache, log: join(dir, 'producer.log') });
  if (!r.result.summary.ok) throw new Error(`producer run failed: ${JSON.stringify(r.result.summary.failures)}`);
  return { path, lock: (await readLockfile(lockfilePath(path)))! };
}

/** Status says every node is up to date, and a run executes nothing. */
export async function expectAllCached(pipelinePath: string, cache: string, log: string): Promise<{ stale: string[]; executed: string[] }> {
  const plan = await planPipeline(pipelinePath);
  const lines = await pipelineStatus(plan, new Store(cache), await readLockfile(lockfilePath(pipelinePath)));
  const stale = lines.filter((l) => l.state !== 'up-to-date').map((l) => `${l.nodeId}: ${l.reasons.join('; ')}`);
  await writeFile(log, '');
  const r = await runInProcess(pipelinePath, { cache, log });
  if (!r.result.summary.ok) throw new Error('rerun failed');
  return { stale, executed: await executions(log) };
}

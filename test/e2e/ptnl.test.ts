// The prompt-learning pipelines end to end on the synthetic prompt set, on a reduced grid (the full
// ptnl.yaml grid is 12 points; its < 5 min budget is for `sieve run`, not for the test suite).
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeArtifact } from '../../src/runtime/store/artifact.js';
import type { Store } from '../../src/runtime/store/store.js';
import type { Json } from '../../src/runtime/tensor.js';
import { REPO_ROOT, lockfileOf, makeTempDir, removeTempDirs, runInProcess } from '../helpers/runtime.js';

afterAll(removeTempDirs);

async function copyPipeline(name: string): Promise<{ pipeline: string; cache: string }> {
  const dir = await makeTempDir('sieve-e2e-ptnl-');
  const pipeline = join(dir, name);
  await copyFile(join(REPO_ROOT, 'pipelines', name), pipeline);
  return { pipeline, cache: join(dir, 'cache') };
}

/** The lockfile's point whose id has every one of `parts` (`-p` overrides are part of point ids); else its only point. */
function pointOf(points: Record<string, unknown>, parts: string[]): string {
  const ids = Object.keys(points);
  const id = parts.length ? ids.find((x) => parts.every((part) => x.split(',').includes(part))) : ids.length === 1 ? ids[0] : undefined;
  if (id === undefined) throw new Error(`no point with ${parts.join(', ')} among ${ids.join(' | ')}`);
  return id;
}

async function accuracy(pipeline: string, store: Store, parts: string[], node: string): Promise<number> {
  const lock = await lockfileOf(pipeline);
  const ref = lock.points[pointOf(lock.points, parts)].nodes[node].outputs.metrics;
  return (decodeArtifact(ref, await store.read(ref)) as Record<string, Json>).test_accuracy as number;
}

describe('prompt-learning pipelines (synthetic prompt set)', () => {
  it('ptnl: CoOp beats zero-shot on clean labels; GCE is at least as good as CE at 50 % noise', async () => {
    const t = await copyPipeline('ptnl.yaml');
    const run = await runInProcess(t.pipeline, {
      cache: t.cache, grid: ['noise.rate=0,0.5', 'seed=0'],
      overrides: ['matrix_4.blocks=2', 'data.test_per_class=50'],
    });
    expect(run.result.summary.ok, JSON.stringify(run.result.summary.failures)).toBe(true);
    const clean = ['noise.rate=0', 'seed=0'];
    const noisy = ['noise.rate=0.5', 'seed=0'];
    const acc = (point: string[], node: string) => accuracy(t.pipeline, run.store, point, node);
    const zeroShot = await acc(clean, 'eval_zeroshot');
    expect(await acc(clean, 'eval_coop_ce')).toBeGreaterThan(zeroShot + 0.2);
    expect(await acc(clean, 'eval_coop_gce')).toBeGreaterThan(zeroShot + 0.2);
    expect(await acc(noisy, 'eval_coop_gce')).toBeGreaterThanOrEqual(await acc(noisy, 'eval_coop_ce'));
    // Robust similarity keeps a cleaner set than the 50 % noisy 16 shots.
    const lock = await lockfileOf(t.pipeline);
    const ref = lock.points[pointOf(lock.points, noisy)].nodes.eval_matrix_1.outputs.metrics;
    const m = decodeArtifact(ref, await run.store.read(ref)) as Record<string, Json>;
    expect(m.selection_precision as number).toBeGreaterThan(0.5);
  }, 600_000);

  it('upl: zero-shot pseudo-labels, 16 random per pseudo-class, an ensemble of prompts from several seeds', async () => {
    const t = await copyPipeline('upl.yaml');
    const run = await runInProcess(t.pipeline, { cache: t.cache, overrides: ['data.test_per_class=50', 'prompt_1.epochs=5'] });
    expect(run.result.summary.ok, JSON.stringify(run.result.summary.failures)).toBe(true);
    const acc = (node: string) => accuracy(t.pipeline, run.store, [], node);
    expect(await acc('eval_ensemble')).toBeGreaterThan(await acc('eval_zeroshot'));
    const lock = await lockfileOf(t.pipeline);
    expect(lock.points[pointOf(lock.points, [])].nodes.sample.outputs.mask.shape).toEqual([640]);
  }, 600_000);
});

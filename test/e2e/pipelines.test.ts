// End to end: the shipped pipelines run through the real runtime and node types.
import { copyFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeArtifact } from '../../src/runtime/store/artifact.js';
import type { Store } from '../../src/runtime/store/store.js';
import type { Json } from '../../src/runtime/tensor.js';
import { writeTinyClipModel } from '../helpers/onnx-models.js';
import {
  REPO_ROOT, lockfileOf, makeTempDir, planPipeline, removeTempDirs, runInProcess, statuses, writePipeline,
} from '../helpers/runtime.js';

const MNIST = join(REPO_ROOT, '../shared/data/mnist');
const TOKENIZER = join(REPO_ROOT, '../shared/data/clip-tokenizer');
const haveMnist = existsSync(join(MNIST, 't10k-labels-idx1-ubyte.gz'));
const haveTokenizer = existsSync(join(TOKENIZER, 'tokenizer.json'));

afterAll(removeTempDirs);

/** A node's metrics at a point of the lockfile (default: its only point; `-p` overrides are part of point ids). */
async function metricsOf(pipeline: string, store: Store, node: string, point?: string): Promise<Record<string, Json>> {
  return (await outputOf(pipeline, store, node, 'metrics', point)) as Record<string, Json>;
}

async function outputOf(pipeline: string, store: Store, node: string, port: string, point?: string): Promise<Json> {
  const lock = await lockfileOf(pipeline);
  const ref = lock.points[point ?? Object.keys(lock.points)[0]].nodes[node].outputs[port];
  return decodeArtifact(ref, await store.read(ref)) as Json;
}

async function copyPipeline(name: string): Promise<{ dir: string; pipeline: string; cache: string }> {
  const dir = await makeTempDir('sieve-e2e-');
  const pipeline = join(dir, name);
  await copyFile(join(REPO_ROOT, 'pipelines', name), pipeline);
  return { dir, pipeline, cache: join(dir, 'cache') };
}

describe('shipped pipelines', () => {
  it('every pipeline in pipelines/ validates', async () => {
    const files = (await readdir(join(REPO_ROOT, 'pipelines'))).filter((f) => f.endsWith('.yaml'));
    expect(files).toEqual(expect.arrayContaining(['quickstart.yaml', 'mnist-noisy.yaml', 'cifar10-clipcleaner.yaml']));
    for (const f of files) await expect(planPipeline(join(REPO_ROOT, 'pipelines', f))).resolves.toBeDefined();
  });

  it('quickstart: selection precision beats the noise rate widely; a threshold change reruns only what is below it', async () => {
    const t = await copyPipeline('quickstart.yaml');
    const first = await runInProcess(t.pipeline, { cache: t.cache, noSweep: true });
    expect(first.result.summary.ok).toBe(true);
    const m = await metricsOf(t.pipeline, first.store, 'evaluate');
    expect(m.noise_rate).toBeCloseTo(0.45, 1); // 50 % of labels redrawn over all 10 classes
    expect(m.selection_precision as number).toBeGreaterThan(0.9); // vs. 0.55 clean among given labels
    expect(m.selection_recall as number).toBeGreaterThan(0.4);
    expect(m.test_accuracy as number).toBeGreaterThan(0.8);
    // The head is calibrated: its confidence matches its accuracy (ECE ≤ 0.08) and is far from the
    // near-uniform 0.1–0.2 of a head without logit scale or bias.
    expect(m.ece as number).toBeLessThanOrEqual(0.08);
    expect(m.mean_confidence as number).toBeGreaterThan(0.7);
    expect(Math.abs((m.mean_confidence as number) - (m.test_accuracy as number))).toBeLessThan(0.08);
    // So the second MixFix round (0.8 thresholds on the trained head's probabilities) fires, and
    // for the right reason: most of what it relabels gets its true label back.
    const round2 = await outputOf(t.pipeline, first.store, 'relabel2', 'report') as { counts: { relabelled: number; absorbed: number }; relabel_accuracy: number };
    expect(round2.counts.relabelled).toBeGreaterThan(500);
    expect(round2.relabel_accuracy).toBeGreaterThan(0.85);

    const second = await runInProcess(t.pipeline, { cache: t.cache, overrides: ['relabel.absorb=0.7'], noSweep: true });
    const s = statuses(second.events);
    expect({ data: s.data, noise: s.noise, select: s.select }).toEqual({ data: 'cached', noise: 'cached', select: 'cached' });
    expect(s.relabel).toBe('ran');
  }, 120_000);

  it('quickstart grid: shared upstream nodes run once for all 9 points', async () => {
    const t = await copyPipeline('quickstart.yaml');
    const run = await runInProcess(t.pipeline, { cache: t.cache });
    expect(run.plan.points).toHaveLength(9);
    const ran = run.events.filter((e) => e.event === 'node-end' && e.status === 'ran').map((e) => (e as { node: { nodeId: string } }).node.nodeId);
    for (const id of ['data', 'noise', 'select']) expect(ran.filter((x) => x === id)).toHaveLength(1);
    expect(ran.filter((x) => x === 'relabel')).toHaveLength(9);
  }, 120_000);

  it.skipIf(!haveMnist)('mnist-noisy: real MNIST, pixels embedder, baselines side by side (needs ../shared/data/mnist)', async () => {
    const t = await copyPipeline('mnist-noisy.yaml');
    const run = await runInProcess(t.pipeline, { cache: t.cache, overrides: [`data.path=${MNIST}`] });
    expect(run.result.summary.ok).toBe(true);
    for (const node of ['eval_logreg', 'eval_knn', 'eval_confident', 'eval_small_loss', 'eval_distance']) {
      const m = await metricsOf(t.pipeline, run.store, node);
      expect(m.selection_precision as number, node).toBeGreaterThan(0.75); // 0.6 of given labels are clean
    }
    expect((await metricsOf(t.pipeline, run.store, 'eval_train')).test_accuracy as number).toBeGreaterThan(0.75);
  }, 120_000);

  it.skipIf(!haveMnist || !haveTokenizer)('CLIP path: a generated ONNX CLIP embeds MNIST in a worker thread and feeds clipcleaner (needs ../shared)', async () => {
    const dir = await makeTempDir('sieve-e2e-clip-');
    await writeTinyClipModel(join(dir, 'model'), { tokenizerDir: TOKENIZER, variants: ['fp32'] });
    const pipeline = await writePipeline(dir, [
      'name: clip-e2e',
      'nodes:',
      `  data: {type: load, params: {source: mnist, path: ${JSON.stringify(MNIST)}, holdout: 0.5, max_train: 300, max_test: 100}}`,
      '  noise: {type: noise-inject, inputs: {labels: data.train_labels, classes: data.classes}, params: {model: symmetric, rate: 0.3}}',
      '  embed:',
      '    type: embed',
      '    inputs: {images: data.train_images, test_images: data.test_images, classes: data.classes}',
      '    params: {embedder: clip, model: {dir: model}, batch_size: 32, templates: simple}',
      '  select:',
      '    type: select',
      '    inputs: {features: embed.features, labels: noise.noisy_labels, text_features: embed.text_features, classes: data.classes}',
      '    params: {method: clipcleaner}',
      '',
    ].join('\n'));
    const cache = join(dir, 'cache');
    const run = await runInProcess(pipeline, { cache });
    expect(run.result.summary.ok, JSON.stringify(run.result.summary.failures)).toBe(true);
    const lock = await lockfileOf(pipeline);
    const embed = lock.points.default.nodes.embed;
    expect(embed.outputs.features.shape).toEqual([300, expect.any(Number)]);
    expect(embed.outputs.text_features.shape?.slice(0, 2)).toEqual([10, 1]);
    expect(embed.deps.map((d) => d.name).join(' ')).toMatch(/vision/);
    // The model file is part of the key: the second run is all cached.
    const again = await runInProcess(pipeline, { cache });
    expect(Object.values(statuses(again.events)).every((s) => s === 'cached')).toBe(true);
  }, 120_000);
});

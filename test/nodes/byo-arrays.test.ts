// Bring your own arrays: features computed elsewhere, with their class text features [K, P, D] and
// the true labels beside the given (noisy) ones, run through select → relabel → evaluate without a
// `command` node; select and relabel output the probabilities they used.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/npy.js';
import load, { type LoadParams } from '../../src/nodes/load.js';
import { createRng } from '../../src/random/rng.js';
import { decodeArtifact } from '../../src/runtime/store/artifact.js';
import { encodeSafetensors } from '../../src/runtime/store/safetensors.js';
import { tensor, type Json, type Tensor } from '../../src/runtime/tensor.js';
import { portsFor } from '../../src/runtime/types/node-type.js';
import { endOf, makeTempDir, removeTempDirs, runInProcess, writePipeline } from '../helpers/runtime.js';

afterAll(removeTempDirs);

const K = 3;
const D = 8;
const N = 90;

/** Unit features around K prototypes; text features = the prototypes (2 prompts each); 20 % of labels flipped. */
function arrays() {
  const rng = createRng(3, 'byo');
  const protos = Array.from({ length: K }, () => Array.from({ length: D }, () => rng.normal()));
  const x = new Float32Array(N * D);
  const truth = new Int32Array(N);
  const noisy = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    truth[i] = i % K;
    noisy[i] = rng.next() < 0.2 ? (truth[i] + 1) % K : truth[i];
    const v = protos[truth[i]].map((p) => p + 0.3 * rng.normal());
    const norm = Math.hypot(...v);
    v.forEach((a, j) => (x[i * D + j] = a / norm));
  }
  const text = new Float32Array(K * 2 * D);
  for (let c = 0; c < K; c++) {
    const norm = Math.hypot(...protos[c]);
    for (let p = 0; p < 2; p++) for (let j = 0; j < D; j++) text[(c * 2 + p) * D + j] = protos[c][j] / norm;
  }
  return { x, truth, noisy, text };
}

describe('load: bring your own arrays', () => {
  it('declares text_features and one port per extra label array; a name that is already a port is refused', () => {
    const outs = (p: Partial<LoadParams>) => Object.keys(portsFor(load, { source: 'features', train: 'x.npy', holdout: 0, ...p } as LoadParams, new Set()).outputs).sort();
    expect(outs({ text_features: 't.npy', extra_labels: { true_labels: 'y.npy', annotator_2: 'a.npy' } })).toEqual([
      'annotator_2', 'classes', 'test_features', 'test_labels', 'text_features', 'train_features', 'train_labels', 'true_labels',
    ]);
    expect(() => outs({ extra_labels: { classes: 'y.npy' } })).toThrow('extra_labels.classes: "classes" is already an output of load');
  });

  it('text features and extra label arrays from a .safetensors and .npy feed select, relabel and evaluate; their probabilities are outputs', async () => {
    const dir = await makeTempDir();
    const a = arrays();
    await mkdir(join(dir, 'feats'));
    await writeFile(join(dir, 'feats', 'train.safetensors'), encodeSafetensors({
      features: tensor('float32', [N, D], a.x),
      labels: tensor('int32', [N], a.noisy),
      text: tensor('float32', [K, 2, D], a.text),
    }));
    await writeFile(join(dir, 'feats', 'truth.npy'), encodeNpy(tensor('int32', [N], a.truth)));
    const pipeline = await writePipeline(dir, `name: byo
nodes:
  data:
    type: load
    params:
      source: features
      path: feats
      train: train.safetensors
      text_features: text
      extra_labels: { true_labels: truth.npy }
      classes: [a, b, c]
      holdout: 0.2
  select:
    type: select
    inputs: { features: data.train_features, labels: data.train_labels, text_features: data.text_features, true_labels: data.true_labels, classes: data.classes }
    params: { method: clipcleaner, oof_folds: 2 }
  relabel:
    type: relabel
    inputs: { labels: data.train_labels, selection: select.mask, features: data.train_features, true_labels: data.true_labels, classes: data.classes }
    params: { method: mixfix, source: logreg, absorb: 0.7, relabel: 0.9 }
  evaluate:
    type: evaluate
    inputs: { selection: select.mask, noisy_labels: data.train_labels, true_labels: data.true_labels, relabel_labels: relabel.labels, classes: data.classes }
`);
    const { result, events, store } = await runInProcess(pipeline, { cache: join(dir, 'cache') });
    expect(result.summary.failures).toEqual([]);
    const out = async (node: string, port: string): Promise<Json | Tensor> => {
      const ref = endOf(events, node).record!.outputs[port];
      return decodeArtifact(ref, await store.read(ref)) as Json | Tensor;
    };
    const text = (await out('data', 'text_features')) as Tensor;
    expect(text.shape).toEqual([K, 2, D]);
    // The true labels follow their rows through the holdout: 72 of 90 train rows.
    const trueLabels = (await out('data', 'true_labels')) as Tensor;
    const given = (await out('data', 'train_labels')) as Tensor;
    expect(trueLabels.shape).toEqual([72]);
    const feats = (await out('data', 'train_features')) as Tensor;
    for (let i = 0; i < 72; i++) {
      const row = Array.from((feats.data as Float32Array).subarray(i * D, (i + 1) * D));
      const src = [...Array(N).keys()].find((j) => row.every((v, d) => v === a.x[j * D + d]))!;
      expect([trueLabels.data[i], given.data[i]]).toEqual([a.truth[src], a.noisy[src]]);
    }
    const metrics = (await out('evaluate', 'metrics')) as Record<string, Json>;
    expect(metrics.noise_rate as number).toBeGreaterThan(0.05);
    // The selection is cleaner than the given labels, as judged by the true labels that came with the data.
    expect(metrics.selection_precision as number).toBeGreaterThan(1 - (metrics.noise_rate as number));

    // select: every probability source it used, [S, N, K], named in its report.
    const probs = (await out('select', 'probs')) as Tensor;
    const report = (await out('select', 'report')) as Record<string, Json>;
    expect(report.probs_sources).toEqual(['zeroshot', 'logreg/2']);
    expect(probs.shape).toEqual([2, 72, K]);
    const rowSum = (t: Tensor, offset: number): number => Array.from((t.data as Float32Array).subarray(offset, offset + K)).reduce((s, v) => s + v, 0);
    expect(rowSum(probs, 0)).toBeCloseTo(1, 5);
    expect(rowSum(probs, 72 * K)).toBeCloseTo(1, 5);
    // relabel: the logistic regression's predictions that MixFix thresholded.
    const relabelProbs = (await out('relabel', 'probs')) as Tensor;
    expect(relabelProbs.shape).toEqual([72, K]);
    expect(rowSum(relabelProbs, 5 * K)).toBeCloseTo(1, 5);
  }, 60_000);
});

// Train-node benchmark: linear and cosine heads on 50 000 × 512 synthetic CLIP-like features (the
// logreg benchmark's), 10 classes, 20 epochs (GCE q = 0.7, mixup α = 1, class-balanced sampling,
// batch 128, momentum SGD with weight decay and a cosine schedule, predictions on all N after every
// epoch), in training
// samples per second. Baseline in the same run: the same training in PyTorch on one CPU thread
// (bench/train_torch.py, Debian's python3-torch), when /usr/bin/python3 can import torch; target:
// Sieve at least as fast, with the second thread the node uses and without. Also the tfjs (wasm)
// path the linear heads used before, for reference.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { trainLinearHead } from '../src/methods/train/linear-head.js';
import type { TrainData, TrainOptions } from '../src/methods/train/trainer.js';
import { syntheticFeatures } from './logreg.js';
import type { BenchOptions, BenchRow } from './types.js';

const run = promisify(execFile);
const D = 512;
const K = 10;
const PYTHON = '/usr/bin/python3';

function features(n: number): TrainData {
  const { data, labels } = syntheticFeatures(n, 5);
  return { features: data, numSamples: n, dim: D, labels, numClasses: K };
}

async function torchAvailable(): Promise<boolean> {
  try {
    await run(PYTHON, ['-c', 'import torch, numpy']);
    return true;
  } catch {
    return false;
  }
}

export async function benchTrain(opts: BenchOptions): Promise<BenchRow[]> {
  const n = opts.quick ? 5000 : 50000;
  const epochs = opts.quick ? 3 : 20;
  const data = features(n);
  const size = `${n}×${D}, ${epochs} epochs`;
  const haveTorch = await torchAvailable();
  const featPath = join(opts.workDir, 'features.f32');
  const labelPath = join(opts.workDir, 'labels.i32');
  if (haveTorch) {
    await writeFile(featPath, new Uint8Array(data.features.buffer));
    await writeFile(labelPath, new Uint8Array(data.labels.buffer));
  }
  const rows: BenchRow[] = [];
  for (const head of ['linear', 'cosine'] as const) {
    const options: TrainOptions = {
      head: { kind: head, bias: true, logitScale: { init: 1 / 0.07, learn: false } }, loss: { kind: 'gce', q: 0.7 }, mixup: { alpha: 1 },
      sampler: 'balanced', epochs, batchSize: 128, lr: 0.02, momentum: 0.9, weightDecay: 5e-4, schedule: { kind: 'cosine' }, warmupEpochs: 0, mixfix: null, seed: 0,
    };
    // PyTorch first, then Sieve, so that neither always runs on a machine the other has warmed.
    let torchRate: number | undefined;
    if (haveTorch) {
      const script = fileURLToPath(new URL('./train_torch.py', import.meta.url));
      const { stdout } = await run(PYTHON, [script, featPath, labelPath, String(n), String(D), String(K), String(epochs), head], { maxBuffer: 1 << 20 });
      torchRate = (n * epochs) / (JSON.parse(stdout) as { seconds: number }).seconds;
    }
    // Warm the JIT up on a small subset first, so that the first timed run is not the slower one.
    const warm = Math.min(n, 8000);
    trainLinearHead({ ...data, features: data.features.subarray(0, warm * D), numSamples: warm, labels: data.labels.subarray(0, warm) }, { ...options, epochs: 2 });
    // On one thread, then with the second thread the node adds when a core is idle (large sets only).
    for (const threads of [1, 2]) {
      const t0 = performance.now();
      trainLinearHead(data, options, threads);
      const rate = (n * epochs) / ((performance.now() - t0) / 1000);
      rows.push({
        bench: 'train', metric: `${head} head samples/s, ${threads} thread${threads > 1 ? 's' : ''} (${size})`, value: Math.round(rate), unit: 'samples/s',
        ...(torchRate !== undefined
          ? { baseline: Math.round(torchRate), ratio: rate / torchRate, target: '>= 1.0 × PyTorch, 1 thread', ok: rate >= torchRate }
          : { target: 'PyTorch baseline skipped: /usr/bin/python3 cannot import torch' }),
      });
    }
  }
  // The tfjs path (wasm) on the linear head, as the node trained it before: reference, no target.
  const { selectBackend } = await import('../src/methods/train/backend.js');
  const { trainClassifier } = await import('../src/methods/train/trainer.js');
  const wasm = await selectBackend('wasm');
  const small = opts.quick ? n : 10000;
  const sub: TrainData = { ...data, features: data.features.subarray(0, small * D), numSamples: small, labels: data.labels.subarray(0, small) };
  const t1 = performance.now();
  trainClassifier(wasm.tf, sub, {
    head: { kind: 'linear', bias: true, logitScale: { init: 1 / 0.07, learn: false } }, loss: { kind: 'gce', q: 0.7 }, mixup: { alpha: 1 },
    sampler: 'balanced', epochs: 2, batchSize: 128, lr: 0.02, momentum: 0.9, weightDecay: 5e-4, schedule: { kind: 'cosine' }, warmupEpochs: 0, mixfix: null, seed: 0,
  });
  rows.push({ bench: 'train', metric: `linear head on tfjs wasm samples/s (${small}×${D}, 2 epochs)`, value: Math.round((small * 2) / ((performance.now() - t1) / 1000)), unit: 'samples/s' });
  return rows;
}

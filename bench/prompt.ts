// Prompt learning: one CoOp step (K = 10 classes, n_ctx 16, forward + backward + SGD update through
// the text transformer) on each tfjs backend available, against the same step in PyTorch (CPU)
// measured in the same run when python3 has torch; and the text model's forward throughput against
// the ONNX text encoder (onnxruntime-node) on the same random-weight model and prompts. Full runs use
// the ViT-B/32 text shape (width 512, 12 layers, 8 heads); --quick a small one.
//
//   npx tsx bench/prompt.ts [--quick]
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { TEXT_B32, buildTextModel, type TextConfig } from '../scripts/build-clip-onnx.js';
import { ClipTextModel } from '../src/clip/text-model.js';
import { loadTextWeightsFromOnnx } from '../src/clip/text-weights.js';
import { PromptLearner, promptStep, type PromptTuneOptions } from '../src/methods/prompt/coop.js';
import { promptLayout } from '../src/methods/prompt/layout.js';
import { BackendUnavailableError, selectBackend, type BackendName } from '../src/methods/train/backend.js';
import { createRng } from '../src/random/rng.js';
import type { BenchOptions, BenchRow } from './types.js';

const SMALL: TextConfig = { vocabSize: 49408, contextLength: 77, width: 64, layers: 2, heads: 4, mlp: 256, embedDim: 64 };
const K = 10;
const N_CTX = 16;
const NAME_LEN = 2;
const BATCH = 32;
const SOT = 49406;
const EOT = 49407;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(reps: number, fn: () => void): number {
  fn();
  const out: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return median(out);
}

/** PyTorch's step time (ms) or undefined when python3/torch is missing. */
function torchStep(c: TextConfig, reps: number, threads: number): { ms: number; threads: number } | undefined {
  const script = fileURLToPath(new URL('./prompt_torch.py', import.meta.url));
  // Debian's python3-torch lives in the system interpreter, which a pyenv/venv python3 may shadow.
  const python = ['python3', '/usr/bin/python3'].find((py) => {
    try {
      execFileSync(py, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
      return true;
    } catch {
      return false;
    }
  });
  if (!python) {
    process.stderr.write('bench prompt: no PyTorch baseline (neither python3 nor /usr/bin/python3 imports torch)\n');
    return undefined;
  }
  try {
    const out = execFileSync(python, [script, ...[c.width, c.layers, c.heads, c.embedDim, K, N_CTX, NAME_LEN, BATCH, reps, threads].map(String)], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000,
    });
    const parsed = JSON.parse(out.trim().split('\n').at(-1)!) as { median_ms: number; threads: number };
    return { ms: parsed.median_ms, threads: parsed.threads };
  } catch (e) {
    process.stderr.write(`bench prompt: no PyTorch baseline (${(e as Error).message.split('\n')[0]})\n`);
    return undefined;
  }
}

export async function benchPrompt(opts: BenchOptions): Promise<BenchRow[]> {
  const config = opts.quick ? SMALL : TEXT_B32;
  const shape = opts.quick ? 'small text model' : 'ViT-B/32 text';
  const path = join(opts.workDir, 'text_model.onnx');
  await writeFile(path, buildTextModel(config, 0));
  const weights = await loadTextWeightsFromOnnx(path);
  const rows: BenchRow[] = [];
  const rng = createRng(0, 'bench-prompt');
  const classTokens = Array.from({ length: K }, () => Array.from({ length: NAME_LEN }, () => 1000 + rng.int(40000)));
  const layout = promptLayout({ classTokens, suffix: [269], sot: SOT, eot: EOT }, N_CTX, 'end', 77);
  const features = Float32Array.from({ length: BATCH * config.embedDim }, () => rng.normal());
  for (let i = 0; i < BATCH; i++) {
    const row = features.subarray(i * config.embedDim, (i + 1) * config.embedDim);
    const norm = Math.hypot(...row);
    for (let q = 0; q < row.length; q++) row[q] /= norm;
  }
  const labels = Int32Array.from({ length: BATCH }, (_, i) => i % K);
  const idx = Int32Array.from({ length: BATCH }, (_, i) => i);
  const stepOptions = { loss: { kind: 'ce' }, logitScale: 100, momentum: 0.9, weightDecay: 5e-4 } as PromptTuneOptions;

  const reps = opts.quick ? 3 : 2;
  const say = (row: BenchRow) => {
    rows.push(row);
    process.stderr.write(`bench prompt: ${row.metric} = ${row.value.toFixed(2)} ${row.unit}${row.baseline !== undefined ? ` (baseline ${row.baseline.toFixed(2)}, ratio ${row.ratio?.toFixed(3)})` : ''}\n`);
  };
  const torch = torchStep(config, reps, 0);
  process.stderr.write(`bench prompt: PyTorch step ${torch ? `${torch.ms.toFixed(1)} ms on ${torch.threads} threads` : 'unavailable'}\n`);
  // A second, single-threaded PyTorch row when its default uses more threads (tfjs wasm runs on one).
  const torch1 = torch && torch.threads > 1 ? torchStep(config, reps, 1) : undefined;
  let wasmStepMs: number | undefined;
  for (const name of ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as BackendName[]) {
    let backend;
    try {
      backend = await selectBackend(name);
    } catch (e) {
      if (e instanceof BackendUnavailableError) continue;
      throw e;
    }
    const tf = backend.tf;
    const model = new ClipTextModel(tf, weights);
    const init = Float32Array.from({ length: N_CTX * config.width }, () => rng.normal() * 0.02);
    const learner = new PromptLearner(tf, model, layout, 1, false, init);
    const momentum = tf.variable(tf.zerosLike(learner.ctx), false);
    try {
      const ms = time(name === 'cpu' && !opts.quick ? 1 : reps, () => promptStep(tf, learner, momentum, features, config.embedDim, labels, undefined, idx, stepOptions, 0.002));
      if (name === 'wasm') wasmStepMs = ms;
      say({
        bench: 'prompt', metric: `CoOp step ${backend.name} (${shape}, K ${K}, n_ctx ${N_CTX}) ms`, value: ms, unit: 'ms',
        ...(torch ? { baseline: torch.ms, ratio: ms / torch.ms, target: `vs PyTorch CPU (${torch.threads} threads), same run` } : {}),
      });
    } finally {
      momentum.dispose();
      learner.dispose();
      model.dispose();
    }
  }
  if (torch1) say({ bench: 'prompt', metric: `CoOp step PyTorch CPU 1 thread (${shape}) ms`, value: torch1.ms, unit: 'ms', ...(wasmStepMs ? { baseline: wasmStepMs, ratio: torch1.ms / wasmStepMs, target: 'baseline: wasm step' } : {}) });

  // Forward throughput: 10 prompts of 21 tokens; ONNX always runs the 77 positions, tfjs up to the EOT.
  const { tf } = await selectBackend('wasm');
  const model = new ClipTextModel(tf, weights);
  const ids = new Int32Array(K * 77);
  classTokens.forEach((name, c) => ids.set([SOT, ...Array.from({ length: N_CTX }, () => 1000 + rng.int(40000)), ...name, 269, EOT], c * 77));
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  try {
    const input = { input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [K, 77]) };
    const onnxMs: number[] = [];
    await session.run(input);
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      await session.run(input);
      onnxMs.push(performance.now() - t0);
    }
    const tfMs = time(reps, () => model.encodeIds(ids, K, 77));
    const onnx = (K * 1000) / median(onnxMs);
    const ours = (K * 1000) / tfMs;
    say({ bench: 'prompt', metric: `text forward tfjs wasm, up to EOT (${shape}) prompts/s`, value: ours, unit: 'prompts/s', baseline: onnx, ratio: ours / onnx, target: 'vs onnxruntime CPU 1 thread, 77 positions' });
  } finally {
    await session.release();
    model.dispose();
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const workDir = await mkdtemp(join(tmpdir(), 'sieve-bench-prompt-'));
  try {
    console.table(await benchPrompt({ quick: process.argv.includes('--quick'), workDir }));
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

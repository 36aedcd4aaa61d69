// The linear family of heads (linear, cosine, text-init) trained on plain typed arrays, without
// tfjs: the forward pass, softmax, CE/GCE gradients and the SGD step written out by hand (they are
// two matrix products and a few loops), the products run by the project's WebAssembly SIMD kernel
// (linalg.ts) or, where wasm SIMD is missing, by the float64 `gemmNT`. Same loop, draws and update
// as the tfjs trainer (trainer.ts); results agree with it and with PyTorch to float rounding
// (test/methods/train/torch-reference.test.ts).
//
// Per step, for a batch x [B, D] with soft targets y and weights w, and s the logit scale:
//   z = x·Wᵀ (cosine: z_ik = x̂_i·Ŵ_k, hats = rows divided by their L2 norm)
//   logits = s·z + b;  ℓ_i = L(logits_i, y_i);  loss = (1/B)·Σ_i w_i ℓ_i
//   G = ∂loss/∂logits = (w_i/B)·∂ℓ_i/∂logits_i  (losses.ts: rowLossGrad)
//   ∂b = Σ_i G_i;  ∂t = s·Σ_ik G_ik z_ik (t = log s, when learned);  ∂W = s·Gᵀ·x
//   cosine: ∂Ŵ = s·Gᵀ·x̂, then ∂W_k = (∂Ŵ_k − Ŵ_k (Ŵ_k·∂Ŵ_k)) / ‖W_k‖
// followed by torch's SGD with L2 weight decay over the whole flat vector.
import { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../../runtime/execution/worker-pool.js';
import { gemmNT, hasSimdKernel, simdKernelMemory, type TileFn } from '../linalg.js';
import { logitScaleOf, type HeadConfig, type HeadLayout } from './heads.js';
import { rowLossGrad } from './losses.js';
import { runTraining, TrainError, type Batch, type HeadEngine, type TrainData, type TrainOptions, type TrainResult } from './trainer.js';

/** Bumped when this implementation's arithmetic changes (it is part of the train node's key). */
export const LINEAR_HEAD_KERNEL_VERSION = '1';

/** Which arithmetic the linear heads use here: the float32 SIMD kernel, or float64 scalar code. */
export function linearHeadFlavour(): 'simd' | 'scalar' {
  return hasSimdKernel() ? 'simd' : 'scalar';
}

const PREDICT_ROWS = 1024;
const EPS = 1e-12;
const up4 = (v: number): number => Math.ceil(v / 4) * 4;

/**
 * Float32 scratch regions with one matrix product A·Bᵀ between them: the SIMD kernel when wasm
 * SIMD is available (operands padded: rows of A even, rows of B and the inner size multiples of 4,
 * pad columns zero), else gemmNT on the same arrays.
 */
class Arena {
  readonly heap: Float32Array;
  private readonly tileFn: TileFn | null;

  constructor(floats: number, simd: boolean) {
    const wasm = simd ? simdKernelMemory(floats * 4) : null;
    this.heap = wasm ? new Float32Array(wasm.buffer, 0, floats) : new Float32Array(floats);
    this.tileFn = wasm ? wasm.tile : null;
  }

  /** heap[out + i·n + j] = Σ_p heap[a + i·k + p]·heap[b + j·k + p] (offsets in floats). */
  gemm(a: number, m: number, b: number, n: number, k: number, out: number): void {
    if (this.tileFn) this.tileFn(a * 4, m, b * 4, n, k, out * 4);
    else gemmNT(this.heap, a, m, this.heap, b, n, k, this.heap.subarray(out, out + m * n));
  }
}

export interface LinearStepOptions {
  loss: TrainOptions['loss'];
  momentum: number;
  weightDecay: number;
}

/** A linear-family head on typed arrays; see the header. */
export class LinearHeadEngine implements HeadEngine {
  private readonly theta: Float32Array;
  private readonly velocity: Float32Array;
  private readonly grad: Float64Array;
  private readonly arena: Arena;
  private readonly dp: number;
  private readonly kp: number;
  private readonly bp: number;
  // Float offsets of the arena's regions.
  private readonly wAt: number;
  private readonly xAt: number;
  private readonly xtAt: number;
  private readonly gtAt: number;
  private readonly pAt: number;
  private readonly outAt: number;
  private readonly rowGrad: Float64Array;
  private readonly logits: Float64Array;
  private readonly z: Float64Array;
  private readonly xr: Float64Array;
  private readonly wr: Float64Array;
  private helper: PredictHelper | null = null;
  private norms: { features: Float32Array; inv: Float64Array } | null = null;

  constructor(
    private readonly layout: HeadLayout,
    init: Float32Array,
    private readonly step_: LinearStepOptions | null,
    maxBatch: number,
    simd = hasSimdKernel(),
    /** Threads for the predictions on all samples after every epoch (1, or 2 with a helper thread). */
    private readonly threads = 1,
  ) {
    if (layout.head === 'mlp' || layout.layers.length !== 1) throw new TrainError(`the linear-head engine trains linear, cosine and text-init heads, not ${layout.head}`);
    if (init.length !== layout.size) throw new TrainError(`parameter vector has ${init.length} values, the ${layout.head} head needs ${layout.size}`);
    const { inputDim: d, numClasses: k } = layout;
    this.theta = Float32Array.from(init);
    this.velocity = new Float32Array(layout.size);
    this.grad = new Float64Array(layout.size);
    this.dp = up4(d);
    this.kp = up4(k);
    this.bp = up4(Math.max(1, maxBatch));
    const { dp, kp, bp } = this;
    const regions = [kp * dp, bp * dp, dp * bp, kp * bp, PREDICT_ROWS * dp, Math.max(bp * kp, kp * dp, PREDICT_ROWS * kp)];
    const at: number[] = [];
    let total = 0;
    for (const r of regions) {
      at.push(total);
      total += r;
    }
    [this.wAt, this.xAt, this.xtAt, this.gtAt, this.pAt, this.outAt] = at;
    this.arena = new Arena(total, simd);
    this.rowGrad = new Float64Array(k);
    this.logits = new Float64Array(Math.max(bp, PREDICT_ROWS) * k);
    this.z = new Float64Array(bp * k);
    this.xr = new Float64Array(Math.max(bp, PREDICT_ROWS)).fill(1);
    this.wr = new Float64Array(k).fill(1);
    this.syncWeights();
  }

  /** Copies W into the arena (rows padded to dp) and, for cosine heads, refreshes 1/‖W_k‖. */
  private syncWeights(): void {
    const { inputDim: d, numClasses: k, normalize } = this.layout;
    const heap = this.arena.heap;
    for (let c = 0; c < k; c++) {
      const row = this.theta.subarray(c * d, (c + 1) * d);
      heap.set(row, this.wAt + c * this.dp);
      if (normalize) {
        let ss = 0;
        for (let j = 0; j < d; j++) ss += row[j] * row[j];
        this.wr[c] = 1 / Math.max(Math.sqrt(ss), EPS);
      }
    }
  }

  /** 1/‖row‖ of `rows` rows of `x` (row stride `stride`) into `out` (default this.xr), for cosine heads. */
  private rowNorms(x: Float32Array, base: number, rows: number, stride: number, out: Float64Array = this.xr): void {
    const d = this.layout.inputDim;
    for (let i = 0; i < rows; i++) {
      let ss = 0;
      const o = base + i * stride;
      for (let j = 0; j < d; j++) ss += x[o + j] * x[o + j];
      out[i] = 1 / Math.max(Math.sqrt(ss), EPS);
    }
  }

  /** 1/‖row‖ of every row of a feature matrix, memoised for the last matrix asked about. */
  private featureNorms(features: Float32Array): Float64Array {
    if (this.norms?.features !== features) {
      const d = this.layout.inputDim;
      const inv = new Float64Array(features.length / d);
      this.rowNorms(features, 0, inv.length, d, inv);
      this.norms = { features, inv };
    }
    return this.norms.inv;
  }

  /** logits[i·K + c] = s·z_ic + b_c from the arena's product rows (stride kp) for `rows` rows. */
  private toLogits(rows: number, s: number, z: Float64Array | null): void {
    const { numClasses: k, normalize } = this.layout;
    const heap = this.arena.heap;
    const biasAt = this.layout.layers[0].bias?.offset;
    for (let i = 0; i < rows; i++) {
      for (let c = 0; c < k; c++) {
        let v = heap[this.outAt + i * this.kp + c];
        if (normalize) v *= this.xr[i] * this.wr[c];
        if (z) z[i * k + c] = v;
        this.logits[i * k + c] = s * v + (biasAt === undefined ? 0 : this.theta[biasAt + c]);
      }
    }
  }

  predict(features: Float32Array, n: number): Float32Array {
    const { inputDim: d, numClasses: k } = this.layout;
    if (features.length !== n * d) throw new TrainError(`features have ${features.length} values, expected ${n}·${d} (the head's input dimension)`);
    const out = new Float32Array(n * k);
    const helper = this.helperFor(features, n);
    if (!helper) {
      this.predictRows(features, 0, n, out);
      return out;
    }
    // Rows are independent and both threads run this same code: the result is bit-identical to
    // one thread's.
    helper.start(this.theta);
    this.predictRows(features, 0, helper.from, out);
    helper.finish(out);
    return out;
  }

  /** The second thread's predictions, for large sets when `threads` ≥ 2. */
  private helperFor(features: Float32Array, n: number): PredictHelper | null {
    if (this.threads < 2 || n < PARALLEL_MIN_ROWS) return null;
    if (this.helper && this.helper.features !== features) {
      this.helper.close();
      this.helper = null;
    }
    this.helper ??= new PredictHelper(this.layout, features, n);
    return this.helper;
  }

  /** Sets the parameters (a flat vector laid out as the layout says). */
  setParams(params: Float32Array): void {
    this.theta.set(params);
    this.syncWeights();
  }

  /** Softmax predictions of rows [from, to) of features [*, D] into out (same row offsets, K wide). */
  predictRows(features: Float32Array, from: number, to: number, out: Float32Array): void {
    const { inputDim: d, numClasses: k, normalize } = this.layout;
    const heap = this.arena.heap;
    const s = logitScaleOf(this.layout, this.theta);
    for (let start = from; start < to; start += PREDICT_ROWS) {
      const rows = Math.min(PREDICT_ROWS, to - start);
      for (let i = 0; i < rows; i++) heap.set(features.subarray((start + i) * d, (start + i + 1) * d), this.pAt + i * this.dp);
      if (normalize) {
        // The samples do not change between epochs: their norms are computed once.
        const inv = this.featureNorms(features);
        for (let i = 0; i < rows; i++) this.xr[i] = inv[start + i];
      }
      this.arena.gemm(this.pAt, rows + (rows & 1), this.wAt, this.kp, this.dp, this.outAt);
      this.toLogits(rows, s, null);
      for (let i = 0; i < rows; i++) softmaxInto(this.logits, i * k, k, out, (start + i) * k);
    }
  }

  step(batch: Batch, rows: number, lr: number): number {
    const opts = this.step_;
    if (!opts) throw new TrainError('this head engine was made for prediction only');
    const { inputDim: d, numClasses: k, normalize, logitScale } = this.layout;
    const { dp, bp, arena } = this;
    const heap = arena.heap;
    const x = batch.x;
    for (let i = 0; i < rows; i++) {
      const src = i * d;
      heap.set(x.subarray(src, src + d), this.xAt + i * dp);
      for (let j = 0; j < d; j++) heap[this.xtAt + j * bp + i] = x[src + j];
    }
    if (normalize) this.rowNorms(x, 0, rows, d);
    arena.gemm(this.xAt, rows + (rows & 1), this.wAt, this.kp, dp, this.outAt);
    const s = logitScaleOf(this.layout, this.theta);
    this.toLogits(rows, s, this.z);

    const grad = this.grad;
    grad.fill(0);
    const biasAt = this.layout.layers[0].bias?.offset;
    const g = this.rowGrad;
    let lossSum = 0;
    let dScale = 0;
    heap.fill(0, this.gtAt, this.gtAt + this.kp * bp);
    for (let i = 0; i < rows; i++) {
      const wi = batch.w[i];
      lossSum += wi * rowLossGrad(this.logits, i * k, batch.y, i * k, k, opts.loss, g, 0);
      const f = wi / rows;
      for (let c = 0; c < k; c++) {
        const gic = f * g[c];
        if (biasAt !== undefined) grad[biasAt + c] += gic;
        dScale += gic * this.z[i * k + c];
        heap[this.gtAt + c * bp + i] = s * gic * (normalize ? this.xr[i] : 1);
      }
    }
    if (logitScale.offset !== null) grad[logitScale.offset] = s * dScale;
    // ∂W (or ∂Ŵ) = (s·G)ᵀ·x, as (s·G)ᵀ [K, B] times (xᵀ [D, B])ᵀ.
    arena.gemm(this.gtAt, this.kp, this.xtAt, dp, bp, this.outAt);
    for (let c = 0; c < k; c++) {
      const o = this.outAt + c * dp;
      if (!normalize) {
        for (let j = 0; j < d; j++) grad[c * d + j] = heap[o + j];
        continue;
      }
      const r = this.wr[c];
      let dot = 0;
      for (let j = 0; j < d; j++) dot += this.theta[c * d + j] * r * heap[o + j];
      for (let j = 0; j < d; j++) grad[c * d + j] = (heap[o + j] - this.theta[c * d + j] * r * dot) * r;
    }
    sgdUpdate(this.theta, this.velocity, grad, lr, opts.momentum, opts.weightDecay);
    this.syncWeights();
    return lossSum / rows;
  }

  params(): Float32Array {
    return Float32Array.from(this.theta);
  }

  dispose(): void {
    this.helper?.close();
    this.helper = null;
  }
}

/** Below this many rows a second thread costs more than it saves. */
const PARALLEL_MIN_ROWS = 16384;
/** How long to wait for the helper thread (its start-up included) before giving up. */
const HELPER_TIMEOUT_MS = 120_000;

/**
 * A worker thread (predict-worker.ts) that predicts the second half of the rows with its own
 * engine, into shared memory; `finish` waits for it with Atomics.wait (training is synchronous).
 */
class PredictHelper {
  readonly from: number;
  private readonly worker: Worker;
  private readonly flag: Int32Array;
  private readonly shared: Float32Array;
  private error: string | undefined;

  constructor(private readonly layout: HeadLayout, readonly features: Float32Array, n: number) {
    this.from = Math.ceil(n / 2);
    const k = layout.numClasses;
    this.flag = new Int32Array(new SharedArrayBuffer(4));
    this.shared = new Float32Array(new SharedArrayBuffer((n - this.from) * k * 4));
    const d = layout.inputDim;
    // The worker gets its own copy of its rows once; afterwards only the parameters travel.
    this.worker = spawnModuleWorker(Worker, 'methods/train/predict-worker', {
      layout, rows: features.slice(this.from * d, n * d), count: n - this.from, flag: this.flag, out: this.shared,
    });
    this.worker.unref();
    this.worker.on('error', (e) => {
      this.error = e.message;
    });
  }

  start(params: Float32Array): void {
    Atomics.store(this.flag, 0, 0);
    this.worker.postMessage(Float32Array.from(params));
  }

  finish(out: Float32Array): void {
    const deadline = Date.now() + HELPER_TIMEOUT_MS;
    while (Atomics.load(this.flag, 0) === 0) {
      if (Date.now() > deadline) throw new TrainError(`the prediction thread did not answer within ${HELPER_TIMEOUT_MS / 1000} s${this.error ? `: ${this.error}` : ''}`);
      Atomics.wait(this.flag, 0, 0, 50);
    }
    if (Atomics.load(this.flag, 0) !== 1) throw new TrainError(`the prediction thread failed${this.error ? `: ${this.error}` : ''}`);
    out.set(this.shared, this.from * this.layout.numClasses);
  }

  close(): void {
    void this.worker.terminate();
  }
}

/** torch's SGD with L2 weight decay: g ← g + wd·θ; m ← μ·m + g; θ ← θ − lr·m (float32 state). */
export function sgdUpdate(theta: Float32Array, velocity: Float32Array, grad: Float64Array, lr: number, momentum: number, weightDecay: number): void {
  for (let j = 0; j < theta.length; j++) {
    const gj = Math.fround(grad[j] + weightDecay * theta[j]);
    const m = Math.fround(momentum * velocity[j] + gj);
    velocity[j] = m;
    theta[j] = theta[j] - lr * m;
  }
}

function softmaxInto(logits: Float64Array, off: number, k: number, out: Float32Array, outOff: number): void {
  let max = -Infinity;
  for (let c = 0; c < k; c++) if (logits[off + c] > max) max = logits[off + c];
  let sum = 0;
  for (let c = 0; c < k; c++) sum += Math.exp(logits[off + c] - max);
  for (let c = 0; c < k; c++) out[outOff + c] = Math.exp(logits[off + c] - max) / sum;
}

/**
 * Trains a linear, cosine or text-init head without tfjs (see the header). `threads` 2 predicts
 * on large sets after every epoch with a second thread (bit-identical results).
 */
export function trainLinearHead(data: TrainData, options: TrainOptions, threads = 1): TrainResult {
  return runTraining(data, options, (layout, init) => new LinearHeadEngine(
    layout, init, { loss: options.loss, momentum: options.momentum, weightDecay: options.weightDecay }, Math.min(options.batchSize, data.numSamples),
    hasSimdKernel(), threads,
  ));
}

/** Softmax predictions [n, K] of a linear-family head given its flat parameter vector. */
export function predictLinearHead(layout: HeadLayout, params: Float32Array, features: Float32Array, n: number): Float32Array {
  return new LinearHeadEngine(layout, params, null, 1).predict(features, n);
}

/** Whether `trainLinearHead` can train this head (everything but mlp). */
export function isLinearFamily(head: HeadConfig): boolean {
  return head.kind !== 'mlp';
}

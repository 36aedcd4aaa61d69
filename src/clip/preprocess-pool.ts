// Image preprocessing on worker threads. onnxruntime-node runs a session synchronously on the
// calling thread, so preprocessing done on that thread (the Pillow-exact resampler is plain
// JavaScript) could not overlap inference; on workers, batch i+1 is prepared while batch i runs.
// Each image is copied to a worker (a view would carry its whole tensor) and written by the worker
// into a SharedArrayBuffer-backed batch buffer. Pools are kept per config and reused by later
// calls; their threads do not keep the process alive while idle.
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../runtime/execution/worker-pool.js';
import { PreprocessError, type PreprocessConfig, type RawImage } from './preprocess.js';

export interface PreprocessRequest {
  id: number;
  encoded?: Uint8Array;
  pixels?: Uint8Array;
  height?: number;
  width?: number;
  channels?: number;
  buffer: SharedArrayBuffer;
  offset: number;
  expected: { height: number; width: number };
}

export interface PreprocessReply {
  id: number;
  error?: string;
}

interface Pending {
  resolve(): void;
  reject(e: Error): void;
  worker: Worker;
}

/** Worker threads that run ImagePreprocessor.into for one config. */
export class PreprocessPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly load = new Map<Worker, number>();
  private nextId = 1;

  private constructor(
    private readonly WorkerCtor: typeof Worker,
    readonly config: PreprocessConfig,
    readonly size: number,
  ) {}

  static async create(config: PreprocessConfig, size: number): Promise<PreprocessPool> {
    const { Worker } = await import('node:worker_threads');
    return new PreprocessPool(Worker, config, size);
  }

  private spawn(): Worker {
    const worker = spawnModuleWorker(this.WorkerCtor, 'clip/preprocess-worker', { config: this.config });
    worker.unref();
    this.load.set(worker, 0);
    worker.on('message', (r: PreprocessReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      this.settled(worker);
      if (r.error !== undefined) p.reject(new PreprocessError(r.error));
      else p.resolve();
    });
    const fail = (e: Error): void => {
      const index = this.workers.indexOf(worker);
      if (index >= 0) this.workers.splice(index, 1);
      this.load.delete(worker);
      for (const [id, p] of this.pending) {
        if (p.worker !== worker) continue;
        this.pending.delete(id);
        p.reject(new PreprocessError(`preprocessing worker failed: ${e.message}`));
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    this.workers.push(worker);
    return worker;
  }

  private settled(worker: Worker): void {
    const n = (this.load.get(worker) ?? 1) - 1;
    this.load.set(worker, n);
    if (n === 0) worker.unref();
  }

  /** The least loaded worker, starting one while fewer than `size` run. */
  private pick(): Worker {
    let best: Worker | undefined;
    for (const w of this.workers) if (best === undefined || this.load.get(w)! < this.load.get(best)!) best = w;
    if (best === undefined || (this.load.get(best)! > 0 && this.workers.length < this.size)) best = this.spawn();
    return best;
  }

  /** Preprocesses `image` into `out` (backed by a SharedArrayBuffer) at `offset`. */
  into(image: RawImage | Uint8Array, out: Float32Array, offset: number, expected: { height: number; width: number }): Promise<void> {
    if (!(out.buffer instanceof SharedArrayBuffer)) throw new PreprocessError('PreprocessPool writes into SharedArrayBuffer-backed arrays only');
    const worker = this.pick();
    const id = this.nextId++;
    const base = out.byteOffset / Float32Array.BYTES_PER_ELEMENT;
    let msg: PreprocessRequest;
    if (image instanceof Uint8Array) {
      msg = { id, encoded: image.slice(), buffer: out.buffer, offset: base + offset, expected };
    } else {
      const { data, height, width, channels } = image;
      msg = { id, pixels: data.slice(), height, width, channels, buffer: out.buffer, offset: base + offset, expected };
    }
    const transfer = [(msg.encoded ?? msg.pixels)!.buffer as ArrayBuffer];
    this.load.set(worker, this.load.get(worker)! + 1);
    worker.ref();
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      worker.postMessage(msg, transfer);
    });
  }

  async close(): Promise<void> {
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

const pools = new Map<string, Promise<PreprocessPool>>();

/**
 * Workers for preprocessing next to onnxruntime, which takes a thread per physical core: the CPUs
 * beyond two, at most 4. With two CPUs or fewer, preprocessing runs between inference calls on the
 * calling thread instead: a worker would only take turns with onnxruntime's own threads (and make
 * its parallel operators wait for the thread it displaced).
 */
export function defaultPreprocessWorkers(): number {
  return Math.max(0, Math.min(4, availableParallelism() - 2));
}

/** A pool for `config`, shared by every caller with the same config. */
export function sharedPreprocessPool(config: PreprocessConfig, size = defaultPreprocessWorkers()): Promise<PreprocessPool> {
  const key = `${size}:${JSON.stringify(config)}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = PreprocessPool.create(config, size);
    pools.set(key, pool);
  }
  return pool;
}

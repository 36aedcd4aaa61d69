// The helper thread of LinearHeadEngine.predict: owns a copy of the last rows of the features and,
// for every parameter vector it receives, writes their softmax predictions into shared memory,
// then sets the flag (1 done, 2 failed) and wakes the trainer.
import { parentPort, workerData } from 'node:worker_threads';
import type { HeadLayout } from './heads.js';
import { LinearHeadEngine } from './linear-head.js';

const { layout, rows, count, flag, out } = workerData as { layout: HeadLayout; rows: Float32Array; count: number; flag: Int32Array; out: Float32Array };
let engine: LinearHeadEngine | undefined;

parentPort?.on('message', (params: Float32Array) => {
  try {
    if (engine) engine.setParams(params);
    else engine = new LinearHeadEngine(layout, params, null, 1);
    engine.predictRows(rows, 0, count, out);
    Atomics.store(flag, 0, 1);
  } catch (e) {
    Atomics.store(flag, 0, 2);
    throw e;
  } finally {
    Atomics.notify(flag, 0);
  }
});

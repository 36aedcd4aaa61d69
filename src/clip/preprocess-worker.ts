// Worker-thread side of PreprocessPool: preprocesses one image per message straight into the
// shared float32 batch buffer it is given, and answers with the message id (and an error message).
import { parentPort, workerData } from 'node:worker_threads';
import { ImagePreprocessor, type PreprocessConfig, type RawImage } from './preprocess.js';
import type { PreprocessReply, PreprocessRequest } from './preprocess-pool.js';

const port = parentPort;
if (!port) throw new Error('preprocess-worker.ts must run inside a worker thread');

const preprocessor = new ImagePreprocessor((workerData as { config: PreprocessConfig }).config);

port.on('message', (msg: PreprocessRequest) => {
  void (async () => {
    try {
      const image: RawImage | Uint8Array = msg.encoded ?? { data: msg.pixels!, height: msg.height!, width: msg.width!, channels: msg.channels! };
      await preprocessor.into(image, new Float32Array(msg.buffer), msg.offset, msg.expected);
      port.postMessage({ id: msg.id } satisfies PreprocessReply);
    } catch (e) {
      port.postMessage({ id: msg.id, error: (e as Error).message } satisfies PreprocessReply);
    }
  })();
});

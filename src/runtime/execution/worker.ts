// Worker-thread side of the pool: imports node types by module URL and runs tasks sent by the
// executor, streaming progress and logs back as messages.
import { parentPort } from 'node:worker_threads';
import { importNodeType } from '../types/node-module.js';
import { runTask } from './task.js';
import { serializeError, type WorkerMessage, type WorkerReply } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('worker.ts must run inside a worker thread');

port.on('message', (msg: WorkerMessage) => {
  const reply = (r: WorkerReply): void => port.postMessage(r);
  const controller = new AbortController();
  void (async () => {
    try {
      const node = await importNodeType(msg.moduleUrl, msg.request.typeName);
      const result = await runTask(node, msg.request, {
        progress: (done, total, unit) => reply({ id: msg.id, kind: 'progress', done, total, unit }),
        log: (message) => reply({ id: msg.id, kind: 'log', message }),
        signal: controller.signal,
      });
      reply({ id: msg.id, kind: 'done', result });
    } catch (e) {
      reply({ id: msg.id, kind: 'error', ...serializeError(e) });
    }
  })();
});

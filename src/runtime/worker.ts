// Worker-thread side of the pool: imports node types by module URL and runs tasks sent by the
// executor, streaming progress and logs back as messages.
import { parentPort } from 'node:worker_threads';
import type { NodeType } from './node-type.js';
import { runTask } from './task.js';
import type { WorkerMessage, WorkerReply } from './worker-pool.js';

const port = parentPort;
if (!port) throw new Error('worker.ts must run inside a worker thread');

const loaded = new Map<string, NodeType<Record<string, unknown>>>();

async function nodeTypeFrom(moduleUrl: string, typeName: string): Promise<NodeType<Record<string, unknown>>> {
  const id = `${moduleUrl}#${typeName}`;
  const hit = loaded.get(id);
  if (hit) return hit;
  const mod = (await import(moduleUrl)) as { default?: unknown };
  const exported = (Array.isArray(mod.default) ? mod.default : [mod.default]) as NodeType<Record<string, unknown>>[];
  const node = exported.find((n) => n?.type === typeName);
  if (!node) throw new Error(`module ${moduleUrl} exports no node type "${typeName}"`);
  loaded.set(id, node);
  return node;
}

port.on('message', (msg: WorkerMessage) => {
  const reply = (r: WorkerReply): void => port.postMessage(r);
  const controller = new AbortController();
  void (async () => {
    try {
      const node = await nodeTypeFrom(msg.moduleUrl, msg.request.typeName);
      const result = await runTask(node, msg.request, {
        progress: (done, total, unit) => reply({ id: msg.id, kind: 'progress', done, total, unit }),
        log: (message) => reply({ id: msg.id, kind: 'log', message }),
        signal: controller.signal,
      });
      reply({ id: msg.id, kind: 'done', result });
    } catch (e) {
      const err = e as Error & { hash?: string; path?: string; reason?: string };
      reply({
        id: msg.id, kind: 'error', name: err.name ?? 'Error', message: err.message ?? String(e), stack: err.stack,
        corrupt: err.name === 'CorruptObjectError' ? { hash: err.hash!, path: err.path!, reason: err.reason! } : undefined,
      });
    }
  })();
});

// `--json`: one JSON object per line for scripts and CI (progress and log events are left out).
import type { RunEvent, RunListener } from '../runtime/events.js';

export class JsonReporter implements RunListener {
  constructor(private readonly out: NodeJS.WritableStream) {}

  onEvent(e: RunEvent): void {
    const line = toLine(e);
    if (line) this.out.write(`${JSON.stringify(line)}\n`);
  }
}

function toLine(e: RunEvent): Record<string, unknown> | undefined {
  switch (e.event) {
    case 'run-start':
      return { event: 'run-start', runId: e.runId, pipeline: e.pipeline, points: e.points, nodes: e.nodes.length, jobs: e.jobs, time: e.time };
    case 'node-start':
      return { event: 'node-start', node: e.node.nodeId, type: e.node.type, points: e.node.points, key: e.key };
    case 'node-warning':
      return { event: 'warning', node: e.node.nodeId, type: e.node.type, points: e.node.points, message: e.message };
    case 'node-end':
      return {
        event: 'node', node: e.node.nodeId, type: e.node.type, points: e.node.points, status: e.status,
        ms: Math.round(e.ms), key: e.key, outputs: e.outputs, error: e.error ?? e.reason,
      };
    case 'run-end':
      return { event: 'summary', ...e.summary };
    default:
      return undefined;
  }
}

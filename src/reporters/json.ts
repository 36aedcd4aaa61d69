// `--json`: one JSON object per line for scripts and CI: the run's start, each node's start, progress
// (at most one line per node and second, and its last) and end, warnings, then a summary that holds
// every point's metrics. Log lines are left out.
import { nowMs } from '../runtime/execution/clock.js';
import type { NodeRecord, RunEvent, RunListener } from '../runtime/execution/events.js';
import type { Json } from '../runtime/tensor.js';

export interface JsonReporterOptions {
  /** The metrics (flat, `name → number`) a finished node produced, if its type emits any. */
  metricsOf?: (record: NodeRecord) => Promise<Record<string, Json> | undefined>;
  /** Minimum time between two progress lines of one node (default 1 s). */
  progressEveryMs?: number;
}

export class JsonReporter implements RunListener {
  private readonly lastProgress = new Map<string, number>();
  /** point id → `node.metric` → value, filled as metric-emitting nodes finish. */
  private readonly metrics = new Map<string, Record<string, Json>>();
  private readonly pending: Promise<void>[] = [];

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly opts: JsonReporterOptions = {},
  ) {}

  private write(line: Record<string, unknown>): void {
    this.out.write(`${JSON.stringify(line)}\n`);
  }

  onEvent(e: RunEvent): void | Promise<void> {
    switch (e.event) {
      case 'run-start':
        for (const p of e.points) this.metrics.set(p, {});
        return this.write({ event: 'run-start', runId: e.runId, pipeline: e.pipeline, points: e.points, nodes: e.nodes.length, jobs: e.jobs, time: e.time });
      case 'node-start':
        return this.write({ event: 'node-start', node: e.node.nodeId, type: e.node.type, points: e.node.points, key: e.key });
      case 'node-progress': {
        const now = nowMs();
        const last = this.lastProgress.get(e.node.instanceId);
        const final = e.total !== undefined && e.done >= e.total;
        if (!final && last !== undefined && now - last < (this.opts.progressEveryMs ?? 1000)) return;
        this.lastProgress.set(e.node.instanceId, now);
        return this.write({ event: 'progress', node: e.node.nodeId, type: e.node.type, points: e.node.points, done: e.done, total: e.total, unit: e.unit });
      }
      case 'node-queued':
        return this.write({ event: 'queued', node: e.node.nodeId, type: e.node.type, points: e.node.points });
      case 'node-where':
        return this.write({ event: 'worker', node: e.node.nodeId, type: e.node.type, points: e.node.points, worker: e.where });
      case 'node-warning':
        return this.write({ event: 'warning', node: e.node.nodeId, type: e.node.type, points: e.node.points, message: e.message });
      case 'node-end': {
        const record = e.record;
        if (record && this.opts.metricsOf && (e.status === 'ran' || e.status === 'cached')) {
          const nodeId = e.node.nodeId;
          this.pending.push(
            this.opts.metricsOf(record).then((m) => {
              if (!m) return;
              for (const p of e.node.points) {
                const row = this.metrics.get(p) ?? {};
                for (const [k, v] of Object.entries(m)) row[`${nodeId}.${k}`] = v;
                this.metrics.set(p, row);
              }
            }, () => undefined),
          );
        }
        return this.write({
          event: 'node', node: e.node.nodeId, type: e.node.type, points: e.node.points, status: e.status,
          ms: Math.round(e.ms), key: e.key, outputs: e.outputs, error: e.error ?? e.reason,
        });
      }
      case 'run-end':
        return (async () => {
          await Promise.all(this.pending);
          const metrics = Object.fromEntries([...this.metrics].map(([p, m]) => [p, sortKeys(m)]));
          this.write({ event: 'summary', ...e.summary, metrics });
        })();
      default:
        return undefined;
    }
  }
}

function sortKeys(m: Record<string, Json>): Record<string, Json> {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => a.localeCompare(b)));
}

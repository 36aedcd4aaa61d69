// The run record: the latest run of each pipeline file, kept in the cache. `gc` treats every
// object it names as live, and it remembers per-node timings and statuses of that run.
import type { NodeRecord, NodeStatus, RunEvent, RunListener, RunSummary } from '../execution/events.js';
import { sha256 } from '../keys/hash.js';
import type { Plan } from '../planning/plan-types.js';
import type { Store } from '../store/store.js';
import type { Json } from '../tensor.js';

export interface RunRecord {
  pipeline: string;
  file: string;
  lockfile: string;
  runId: string;
  time: string;
  summary: RunSummary;
  nodes: { nodeId: string; points: string[]; status: NodeStatus; ms: number; key?: string; outputs?: NodeRecord['outputs']; error?: string }[];
}

/** One line of a pipeline's run history (`sieve runs`). */
export interface RunHistoryEntry {
  runId: string;
  time: string;
  /** The command line, as typed (arguments after `sieve`). */
  command: string[];
  /** The grid points this run planned. */
  points: string[];
  status: 'ok' | 'failed';
  counts: RunSummary['counts'];
  ms: number;
}

export function runRecordId(pipelinePath: string): string {
  return sha256(pipelinePath).slice(0, 16);
}

export class RunRecordWriter implements RunListener {
  private readonly nodes: RunRecord['nodes'] = [];
  private time = new Date().toISOString();

  constructor(
    private readonly plan: Plan,
    private readonly store: Store,
    private readonly lockfile: string,
    private readonly command: readonly string[] = [],
  ) {}

  onEvent(e: RunEvent): Promise<void> | void {
    if (e.event === 'run-start') this.time = e.time;
    if (e.event === 'node-end') {
      this.nodes.push({
        nodeId: e.node.nodeId, points: e.node.points, status: e.status, ms: Math.round(e.ms),
        key: e.key, outputs: e.record?.outputs, error: e.error ?? e.reason,
      });
    }
    if (e.event === 'run-end') {
      const record: RunRecord = {
        pipeline: this.plan.file.name, file: this.plan.file.path, lockfile: this.lockfile,
        runId: e.summary.runId, time: this.time, summary: e.summary, nodes: this.nodes,
      };
      const history: RunHistoryEntry = {
        runId: e.summary.runId, time: this.time, command: [...this.command], points: this.plan.points.map((p) => p.id),
        status: e.summary.ok ? 'ok' : 'failed', counts: e.summary.counts, ms: Math.round(e.summary.ms),
      };
      const id = runRecordId(this.plan.file.path);
      return Promise.all([
        this.store.writeRunRecord(id, record as unknown as Json),
        this.store.appendRunHistory(id, history as unknown as Json),
      ]).then(() => undefined);
    }
  }
}

// The run's life-cycle as one stream of events. The executor emits; the terminal view, the JSON
// stream, the lockfile and the run record each subscribe (as Nx's life-cycle does).
import type { ExternalDepRecord, ObjectRef } from '../store/store.js';
import type { Json } from '../tensor.js';

export interface NodeRef {
  instanceId: string;
  nodeId: string;
  type: string;
  /** Ids of the grid points this instance belongs to. */
  points: string[];
  /**
   * What sets this instance apart in a sweep: the assignments its points share (e.g.
   * "relabel.absorb=0.7" for an instance shared by the points of one absorb value); absent when it
   * serves every point.
   */
  scope?: string;
}

export type NodeStatus = 'cached' | 'ran' | 'failed' | 'skipped';

/** Everything the lockfile keeps about one node execution. */
export interface NodeRecord {
  key: string;
  type: string;
  version: string;
  params: Record<string, Json>;
  seed: number;
  /** Input port → content hash of the object it read. */
  inputs: Record<string, string>;
  outputs: Record<string, ObjectRef>;
  deps: ExternalDepRecord[];
  /** What the node type's `keyEnvironment` resolved (part of the key); absent when it has none. */
  environment?: Record<string, Json>;
  notes: Record<string, Json>;
  /** How long the execution that produced these outputs took. */
  ms: number;
}

export interface RunSummary {
  runId: string;
  pipeline: string;
  ok: boolean;
  counts: Record<NodeStatus, number>;
  ms: number;
  failures: { nodeId: string; points: string[]; error: string }[];
}

export type RunEvent =
  | { event: 'run-start'; runId: string; pipeline: string; file: string; points: string[]; nodes: NodeRef[]; jobs: number; time: string }
  | { event: 'node-start'; node: NodeRef; key: string }
  | { event: 'node-progress'; node: NodeRef; done: number; total?: number; unit?: string }
  | { event: 'node-log'; node: NodeRef; message: string }
  /** Handed to a queue executor and not yet taken by a worker (a `node-where` follows when one takes it). */
  | { event: 'node-queued'; node: NodeRef }
  /** The worker (of a queue executor) that runs it. */
  | { event: 'node-where'; node: NodeRef; where: string }
  | { event: 'node-warning'; node: NodeRef; message: string }
  | {
      event: 'node-end';
      node: NodeRef;
      status: NodeStatus;
      /** Wall time spent on this node in this run (lookup time for a cache hit). */
      ms: number;
      key?: string;
      outputs?: Record<string, string>;
      record?: NodeRecord;
      error?: string;
      /** For a skipped node: why. */
      reason?: string;
    }
  | { event: 'run-end'; summary: RunSummary };

export interface RunListener {
  onEvent(e: RunEvent): void | Promise<void>;
}

/** Fans events out to listeners; async listeners (file writers) are awaited at `flush`. */
export class EventBus {
  private readonly pending: Promise<void>[] = [];

  constructor(private readonly listeners: readonly RunListener[]) {}

  emit(e: RunEvent): void {
    for (const l of this.listeners) {
      const r = l.onEvent(e);
      if (r) this.pending.push(r);
    }
  }

  async flush(): Promise<void> {
    await Promise.all(this.pending.splice(0));
  }
}

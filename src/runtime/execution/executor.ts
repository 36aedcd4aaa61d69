// Runs a plan: each instance waits for its inputs, computes its key from content hashes, and is
// either a cache hit or runs (bounded by p-limit). Keys use the *content* of the inputs, so a node
// that reruns and produces identical bytes leaves everything downstream a cache hit (early cutoff);
// instances of different grid points that reach the same key run once.
import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import { CorruptObjectError, errorMessage } from '../errors.js';
import { FileHasher, canonicalJson } from '../keys/hash.js';
import { keyInstance, selectInstances, siteOf, type InstanceKey, type KeyMaterial } from '../keys/keys.js';
import type { Plan, PlannedNode } from '../planning/plan-types.js';
import { Lease, describeOrigin, usableFor, type ActionOrigin, type ExternalDepRecord, type ObjectRef, type Store } from '../store/store.js';
import { nowMs } from './clock.js';
import { EventBus, type NodeRecord, type NodeRef, type NodeStatus, type RunListener, type RunSummary } from './events.js';
import { LocalRunner, type Runner, type RunnerResult } from './runner.js';
import type { TaskHooks, TaskRequest } from './task.js';

export interface ExecuteOptions {
  store: Store;
  jobs: number;
  listeners: readonly RunListener[];
  /** Only these node ids and their ancestors. */
  targets?: readonly string[];
  signal?: AbortSignal;
  fileHasher?: FileHasher;
  /** Where executions happen (default: a LocalRunner with `jobs` slots); closed at the end of the run. */
  runner?: Runner;
  /** `sieve audit`: recompute the selected results that came from elsewhere and compare. */
  audit?: AuditOptions;
}

export interface AuditOptions {
  /** Whether to recompute this node's result (one that arrived from a bundle or a remote). */
  select(nodeId: string, key: string): boolean;
  onResult(r: AuditResult): void;
}

export interface AuditResult {
  nodeId: string;
  key: string;
  origin: ActionOrigin;
  /** Output ports whose recomputed hash differs from the record's: [port, recorded, recomputed]. */
  mismatches: [string, string, string][];
}

export interface Outcome {
  status: NodeStatus;
  record?: NodeRecord;
  error?: string;
}

export interface RunResult {
  summary: RunSummary;
  outcomes: Map<string, Outcome>;
}

export function nodeRef(plan: Plan, n: PlannedNode): NodeRef {
  const ref: NodeRef = { instanceId: n.instanceId, nodeId: n.nodeId, type: n.typeName, points: n.points.map((i) => plan.points[i].id) };
  if (n.points.length < plan.points.length) {
    const [first, ...rest] = n.points.map((i) => plan.points[i]);
    const shared = first.assignments.filter((a) => rest.every((p) => p.assignments.some((b) => b.path === a.path && canonicalJson(b.value) === canonicalJson(a.value))));
    const id = (a: { path: string; value: unknown }) => `${a.path}=${typeof a.value === 'string' ? a.value : JSON.stringify(a.value)}`;
    ref.scope = n.points.length === 1 ? first.id : shared.map(id).join(',') || undefined;
  }
  return ref;
}

export async function execute(plan: Plan, opts: ExecuteOptions): Promise<RunResult> {
  const started = nowMs();
  const runId = `${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
  const bus = new EventBus(opts.listeners);
  const store = opts.store;
  await store.init();
  await store.cleanStaleTmp(); // what killed runs left in tmp/
  const lease = new Lease(store);
  const runner = opts.runner ?? new LocalRunner(opts.jobs);
  const limit = pLimit(runner.slots);
  const hasher = opts.fileHasher ?? new FileHasher(store.fileHashStatePath);
  if (!opts.fileHasher) await hasher.load();
  const signal = opts.signal ?? new AbortController().signal;
  const wanted = selectInstances(plan, opts.targets);
  const outcomes = new Map<string, Promise<Outcome>>();
  const byKey = new Map<string, Promise<Outcome>>();

  bus.emit({
    event: 'run-start', runId, pipeline: plan.file.name, file: plan.file.path, points: plan.points.map((p) => p.id),
    nodes: [...plan.nodes.values()].filter((n) => wanted.has(n.instanceId)).map((n) => nodeRef(plan, n)),
    jobs: opts.jobs, time: new Date().toISOString(),
  });

  const outcomeOf = (instanceId: string, force = false): Promise<Outcome> => {
    const existing = outcomes.get(instanceId);
    if (existing && !force) return existing;
    const p = produce(plan.nodes.get(instanceId)!, force);
    outcomes.set(instanceId, p);
    return p;
  };

  async function produce(n: PlannedNode, force: boolean): Promise<Outcome> {
    const ref = nodeRef(plan, n);
    const upstream = await Promise.all(
      Object.entries(n.inputs).map(async ([port, edge]) => [port, edge, await outcomeOf(edge.instanceId)] as const),
    );
    const blocked = upstream.find(([, , o]) => o.status === 'failed' || o.status === 'skipped');
    if (blocked) {
      const reason = `input ${blocked[0]} comes from ${blocked[1].nodeId}, which ${blocked[2].status === 'failed' ? 'failed' : 'was skipped'}`;
      bus.emit({ event: 'node-end', node: ref, status: 'skipped', ms: 0, reason });
      return { status: 'skipped', error: reason };
    }
    const t0 = nowMs();
    const inputRefs: Record<string, ObjectRef> = {};
    for (const [port, edge, o] of upstream) inputRefs[port] = o.record!.outputs[edge.port];
    let keyed: InstanceKey;
    try {
      keyed = await keyInstance(siteOf(n, plan, store), Object.fromEntries(Object.entries(inputRefs).map(([k, r]) => [k, r.hash])), hasher);
    } catch (e) {
      return fail(ref, t0, errorMessage(e));
    }
    const { key, material, deps, environment } = keyed;
    const shared = byKey.get(key);
    if (shared && !force) {
      const o = await shared;
      if (o.status !== 'failed' && o.record) {
        bus.emit({ event: 'node-end', node: ref, status: 'cached', ms: nowMs() - t0, key, outputs: hashesOf(o.record), record: o.record });
        return { status: 'cached', record: o.record };
      }
      return fail(ref, t0, o.error ?? 'failed', key);
    }
    const attempt = (async (): Promise<Outcome> => {
      let auditing: { origin: ActionOrigin; outputs: Record<string, ObjectRef> } | undefined;
      if (!force) {
        const found = store.getAction(key);
        // A result from elsewhere serves only the pipeline it arrived with (unless its source is trusted).
        const foreign = found && !usableFor(found, plan.file.path);
        if (foreign) {
          const from = found.origin?.kind === 'local' ? '' : ` for ${found.origin?.pipeline ?? '?'}`;
          bus.emit({ event: 'node-warning', node: ref, message: `a result ${describeOrigin(found.origin)}${from} is not used by this pipeline: recomputing` });
        }
        const hit = foreign ? undefined : found;
        if (hit?.origin && hit.origin.kind !== 'local' && opts.audit?.select(n.nodeId, key)) {
          auditing = { origin: hit.origin, outputs: hit.outputs };
        } else if (hit) {
          // `has`, not `hasIntact`: a tiered store also counts what its remote holds.
          if (await store.hasAll(Object.values(hit.outputs))) {
            const record = toRecord(hit, material, n);
            lease.add(Object.values(hit.outputs).map((r) => r.hash));
            bus.emit({ event: 'node-end', node: ref, status: 'cached', ms: nowMs() - t0, key, outputs: hashesOf(record), record });
            return { status: 'cached', record };
          }
          bus.emit({ event: 'node-warning', node: ref, message: 'cached outputs are missing or truncated: recomputing' });
          await store.deleteAction(key);
        }
      }
      const request: TaskRequest = {
        nodeId: n.nodeId, typeName: n.typeName, params: n.params, seed: n.seed, inputs: inputRefs,
        outputs: n.ports.outputs, store: store.describe(), baseDir: plan.file.baseDir,
        ...(environment ? { environment } : {}),
      };
      // Every log line of the execution is also kept in the cache under its key (`sieve logs`).
      const logLines: string[] = [];
      const saveLog = (): Promise<void> =>
        logLines.length ? store.writeLog(key, `${logLines.join('\n')}\n`).catch(() => undefined) : Promise.resolve();
      const hooks: TaskHooks = {
        progress: (done, total, unit) => bus.emit({ event: 'node-progress', node: ref, done, total, unit }),
        log: (message) => {
          logLines.push(message);
          bus.emit({ event: 'node-log', node: ref, message });
        },
        signal,
        queued: () => bus.emit({ event: 'node-queued', node: ref }),
        where: (where) => bus.emit({ event: 'node-where', node: ref, where }),
      };
      let tRun = 0;
      let started = false;
      // Only the execution itself holds a concurrency slot: recovering from a corrupt input must
      // release it first, since recomputing the producer needs one (with --jobs 1, this very one).
      const runLimited = (): Promise<RunnerResult> =>
        limit(() => {
          tRun = nowMs();
          if (!started) bus.emit({ event: 'node-start', node: ref, key });
          started = true;
          // Its inputs (and what earlier hits used) are leased before it reads them: `gc` keeps them.
          lease.add(Object.values(inputRefs).map((r) => r.hash));
          lease.flush();
          return runner.run({ instanceId: n.instanceId, node: n.registered, request, key }, hooks);
        });
      let result: RunnerResult;
      try {
        result = await runLimited();
      } catch (e) {
        if (!(e instanceof CorruptObjectError)) {
          await saveLog();
          return fail(ref, t0, errorMessage(e), key);
        }
        // An input was corrupt (and has been removed): recompute its producer, then retry once.
        const bad = upstream.find(([, edge, o]) => o.record!.outputs[edge.port].hash === e.hash);
        if (!bad) return fail(ref, t0, errorMessage(e), key);
        bus.emit({ event: 'node-warning', node: ref, message: `${e.message}; recomputing ${bad[1].nodeId}` });
        const again = await outcomeOf(bad[1].instanceId, true);
        if (again.status === 'failed' || again.record!.outputs[bad[1].port].hash !== e.hash) {
          return fail(ref, t0, `input ${bad[0]} was corrupt and recomputing ${bad[1].nodeId} did not restore it`, key);
        }
        try {
          result = await runLimited();
        } catch (e2) {
          await saveLog();
          return fail(ref, t0, errorMessage(e2), key);
        }
      }
      await saveLog();
      const durationMs = Math.round(nowMs() - tRun);
      if (auditing) {
        const mismatches: AuditResult['mismatches'] = [];
        for (const [port, want] of Object.entries(auditing.outputs)) {
          const got = result.outputs[port]?.hash ?? '(none)';
          if (got !== want.hash) mismatches.push([port, want.hash, got]);
        }
        for (const port of Object.keys(result.outputs)) if (!(port in auditing.outputs)) mismatches.push([port, '(none)', result.outputs[port].hash]);
        // The record is replaced by what was computed here either way: a bad one is gone.
        if (mismatches.length > 0) await store.deleteAction(key);
        opts.audit!.onResult({ nodeId: n.nodeId, key, origin: auditing.origin, mismatches });
      }
      // A runner that stored the action itself (a cluster job) hands it back as it is.
      const action = result.action ?? { key, type: n.typeName, version: n.registered.node.version, outputs: result.outputs, deps, notes: result.notes, durationMs };
      if (!result.action) await store.putAction(action);
      lease.add(Object.values(result.outputs).map((r) => r.hash));
      const record = toRecord(action, result.environment ? { ...material, environment: result.environment } : material, n);
      // Its own time, from the start of execution (not the wait for a free slot).
      bus.emit({ event: 'node-end', node: ref, status: 'ran', ms: nowMs() - tRun, key: action.key, outputs: hashesOf(record), record });
      return { status: 'ran', record };
    })();
    byKey.set(key, attempt);
    return attempt;
  }

  function fail(ref: NodeRef, t0: number, error: string, key?: string): Outcome {
    bus.emit({ event: 'node-end', node: ref, status: 'failed', ms: nowMs() - t0, key, error });
    return { status: 'failed', error };
  }

  const settled = new Map<string, Outcome>();
  try {
    for (const id of plan.nodes.keys()) if (wanted.has(id)) void outcomeOf(id);
    for (const id of plan.nodes.keys()) if (wanted.has(id)) settled.set(id, await outcomes.get(id)!);
  } finally {
    await runner.close();
    await hasher.save().catch(() => undefined); // only a cache: a failed save costs a re-hash next time
  }
  const counts: Record<NodeStatus, number> = { cached: 0, ran: 0, failed: 0, skipped: 0 };
  const failures: RunSummary['failures'] = [];
  for (const [id, o] of settled) {
    counts[o.status]++;
    const n = plan.nodes.get(id)!;
    if (o.status === 'failed') failures.push({ nodeId: n.nodeId, points: nodeRef(plan, n).points, error: o.error ?? '' });
  }
  const summary: RunSummary = {
    runId, pipeline: plan.file.name, ok: counts.failed === 0 && counts.skipped === 0, counts,
    ms: Math.round(nowMs() - started), failures,
  };
  bus.emit({ event: 'run-end', summary });
  try {
    await bus.flush();
  } finally {
    lease.release(); // after the run record and the lockfile name what this run produced
  }
  return { summary, outcomes: settled };
}

function hashesOf(r: NodeRecord): Record<string, string> {
  return Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, v.hash]));
}

function toRecord(
  action: { key: string; outputs: Record<string, ObjectRef>; deps: ExternalDepRecord[]; notes: NodeRecord['notes']; durationMs: number },
  material: KeyMaterial,
  n: PlannedNode,
): NodeRecord {
  return {
    key: action.key, type: material.type, version: material.version, params: n.params, seed: n.seed,
    inputs: material.inputs, outputs: action.outputs, deps: action.deps,
    ...(material.environment ? { environment: material.environment } : {}),
    notes: action.notes, ms: action.durationMs,
  };
}

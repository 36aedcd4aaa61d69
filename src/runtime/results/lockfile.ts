// The lockfile (like dvc.lock): for every grid point and node, the key, what it was computed from
// (params, seed, input hashes, external files) and what it produced. Committed next to the
// pipeline, it is the contract between teammates: `status` diffs against it, `pull` fetches it.
// It is indented JSON (also valid YAML): readable in a diff, and parsed in a few milliseconds
// where a YAML parser took most of a no-op rerun for a grid's lockfile.
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SieveError } from '../errors.js';
import type { NodeRecord, RunEvent, RunListener } from '../execution/events.js';
import type { Plan } from '../planning/plan-types.js';
import { writeFileAtomic } from '../store/atomic-file.js';
import type { Json } from '../tensor.js';

export const LOCKFILE_VERSION = 1;

export interface LockPoint {
  assignments: Record<string, Json>;
  nodes: Record<string, NodeRecord>;
}

export interface Lockfile {
  version: number;
  pipeline: string;
  sieve: string;
  points: Record<string, LockPoint>;
}

export function lockfilePath(pipelinePath: string): string {
  return join(dirname(pipelinePath), `${basename(pipelinePath).replace(/\.ya?ml$/i, '')}.lock`);
}

/** A lockfile Sieve cannot read: never overwritten, and an invalid input (exit 2) for every command. */
export class LockfileError extends SieveError {
  override name = 'LockfileError';
  override readonly exitCode = 2;
}

export async function readLockfile(path: string): Promise<Lockfile | undefined> {
  return (await readLockfileText(path))?.lock;
}

/** The lockfile and its text (undefined when there is none). */
async function readLockfileText(path: string): Promise<{ lock: Lockfile; text: string } | undefined> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8'); // read on every run, before and after: see Store.getAction
  } catch {
    return undefined;
  }
  const refuse = (why: string): LockfileError =>
    new LockfileError(
      `cannot read the lockfile ${path}: ${why}. Sieve does not overwrite a lockfile it cannot read; ` +
        'move it away (or delete it) and run again to write a new one',
    );
  let data: Lockfile | null;
  try {
    data = JSON.parse(text) as Lockfile | null;
  } catch (e) {
    if (text.trim() === '') throw refuse('it is empty');
    throw refuse(
      /^\s*[{[]/.test(text)
        ? `it is not valid JSON (${(e as Error).message}); it may be truncated`
        : `it is not JSON, perhaps the YAML format of an older Sieve (this one reads JSON lockfiles of version ${LOCKFILE_VERSION})`,
    );
  }
  if (!data || typeof data !== 'object' || data.version !== LOCKFILE_VERSION || typeof data.points !== 'object' || data.points === null) {
    const v = data && typeof data === 'object' ? (data as { version?: unknown }).version : undefined;
    throw refuse(v !== undefined && v !== LOCKFILE_VERSION ? `its format version is ${JSON.stringify(v)}, this Sieve reads version ${LOCKFILE_VERSION}` : `it is not a Sieve lockfile of version ${LOCKFILE_VERSION}`);
  }
  return { lock: data, text };
}

const ABOUT =
  'Sieve lockfile: what each node was computed from and what it produced. Commit it with the pipeline; ' +
  '`sieve status` compares against it and `sieve pull` fetches what it names.';

export function serializeLockfile(lock: Lockfile): string {
  return `${JSON.stringify({ _about: ABOUT, ...lock }, null, 1)}\n`;
}

/** Every node type a lockfile records. */
export function lockfileTypes(lock: Lockfile): Set<string> {
  const out = new Set<string>();
  for (const p of Object.values(lock.points)) for (const n of Object.values(p.nodes)) out.add(n.type);
  return out;
}

/** Every object hash a lockfile references. */
export function lockfileObjects(lock: Lockfile): Set<string> {
  const out = new Set<string>();
  for (const p of Object.values(lock.points)) {
    for (const n of Object.values(p.nodes)) for (const o of Object.values(n.outputs)) out.add(o.hash);
  }
  return out;
}

/**
 * Listens to a run and rewrites the lockfile at its end. Points accumulate: a point this run did not
 * plan keeps its entry, so a `-p` run or a narrower grid never loses an earlier run's results; within
 * a point the run planned, nodes that finished (ran or cached) get their new record, and nodes that
 * did not keep their previous one. A point with no record at all is not written, and nothing is
 * written where nothing would be recorded. A lockfile it cannot read is never overwritten.
 */
export class LockfileWriter implements RunListener {
  private readonly finished = new Map<string, NodeRecord>();
  private written: Lockfile | undefined;

  constructor(
    private readonly plan: Plan,
    private readonly sieveVersion: string,
    readonly path = lockfilePath(plan.file.path),
    /** Where its temp file goes (the cache's tmp/), so none is ever left beside the pipeline. */
    private readonly tmpDir?: string,
  ) {}

  onEvent(e: RunEvent): Promise<void> | void {
    if (e.event === 'node-end' && e.record && (e.status === 'ran' || e.status === 'cached')) {
      this.finished.set(e.node.instanceId, e.record);
    }
    if (e.event === 'run-end') return this.write();
  }

  /** The lockfile as the run left it (once the run has ended), for what reads it next in the same process. */
  get lockfile(): Lockfile | undefined {
    return this.written;
  }

  private async write(): Promise<void> {
    const before = await readLockfileText(this.path);
    const previous = before?.lock;
    const points: Record<string, LockPoint> = { ...previous?.points };
    for (const [i, point] of this.plan.points.entries()) {
      const old = previous?.points[point.id]?.nodes ?? {};
      const nodes: Record<string, NodeRecord> = {};
      for (const [nodeId, instanceId] of this.plan.pointNodes[i]) {
        const rec = this.finished.get(instanceId) ?? old[nodeId];
        if (rec) nodes[nodeId] = rec;
      }
      if (Object.keys(nodes).length > 0) {
        points[point.id] = { assignments: Object.fromEntries(point.assignments.map((a) => [a.path, a.value])), nodes };
      }
    }
    const lock: Lockfile = { version: LOCKFILE_VERSION, pipeline: this.plan.file.name, sieve: this.sieveVersion, points };
    if (!before && Object.keys(points).length === 0) return;
    const text = serializeLockfile(lock);
    // Unchanged (a no-op run): left alone, so its modification time still says when results changed.
    if (text !== before?.text) await writeFileAtomic(this.path, text, this.tmpDir);
    this.written = lock;
  }
}

// The plan cache: a memo of planning (YAML parsing, schema validation with defaults, sweep
// expansion, instance merging), like Gradle's configuration cache. A plan is a pure function of the
// pipeline text, the command line's overrides and plugins, Sieve's build, and the node types it
// uses; the memo's key covers the first three, and a hit is only taken after checking the fourth
// (each type's version, params schema and ports). Only valid plans are memoised, so every error is
// still found and located by a full planning. It lives in the store (state/plans/), and nothing is
// lost by deleting it: the next run plans again. An entry keeps each distinct value once (params,
// ports, inputs, edges, point lists, assignments) and refers to it by its index, so that a plan of
// 10^5 points (4·10^5 instances) is tens of MB of JSON, not gigabytes, and restoring it shares
// those values as planning did.
import { readFileSync } from 'node:fs';
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, hashJson, sha256 } from '../keys/hash.js';
import { writeFileAtomic } from '../store/atomic-file.js';
import type { Json } from '../tensor.js';
import { portsFor, type Ports } from '../types/node-type.js';
import type { NodeRegistry } from '../types/registry.js';
import type { ResourceHints } from '../types/resources.js';
import type { Assignment } from './params.js';
import type { InputEdge, LoadedPlugin, PipelineFile, Plan, PlanInputs, PlanMemo, PlannedNode } from './plan-types.js';

/** Bump when planning itself changes what it produces for the same inputs. */
const PLAN_CACHE_FORMAT = 2;
/** The memo keeps at most this many plans; the oldest go first. */
const MAX_ENTRIES = 200;

// Replaced at bundling by a hash of the compiled sources, so that a Sieve that was rebuilt (or
// upgraded) never reads a memo another build wrote; from sources (tests, tsx) it stays undefined.
declare const __SIEVE_BUILD__: string | undefined;
const BUILD = typeof __SIEVE_BUILD__ === 'string' ? __SIEVE_BUILD__ : 'sources';

/**
 * An instance: its id (a number n for `<nodeId>#<n>`), then indexes in the entry's tables (`names`
 * for its node id and type name, then its params, inputs, ports and points lists), its seed, and its
 * resource hints if any.
 */
type InstanceRow = [id: number | string, nodeId: number, typeName: number, params: number, seed: number, inputs: number, ports: number, points: number, resources?: ResourceHints];
/** An edge: the index of the producing instance, and of its node id and output port in `names`. */
type EdgeRow = [instance: number, nodeId: number, port: number];
/** An inputs object: the index of its port names (a list in `portLists`), then an edge (index in `edges`) per port. */
type InputsRow = number[];

interface Entry {
  format: number;
  key: string;
  plugins: LoadedPlugin[];
  /** For each node type the plan uses: its version and the hash of its params schema. */
  types: Record<string, { version: string; schema: string }>;
  file: Omit<PipelineFile, 'path' | 'baseDir'>;
  /** The distinct values the rows below refer to by index. */
  names: string[];
  params: Record<string, Json>[];
  ports: Ports[];
  edges: EdgeRow[];
  portLists: number[][];
  inputs: InputsRow[];
  pointLists: number[][];
  assignments: Assignment[];
  /** Grid points: [index, id, indexes in `assignments`]. */
  points: [number, string, number[]][];
  instances: InstanceRow[];
  /** The node ids of the points' maps (each list once), and per point: [list, instance index per node]. */
  pointNodeKeys: string[][];
  pointNodes: number[][];
  sweptPaths: string[];
}

/** The end of an entry's text: its digest, the sha256 of the text before it (with the closing brace). */
const DIGEST_FIELD = ',"digest":"';

export class PlanCache implements PlanMemo {
  /**
   * @param dir where memos are kept (the store's state/plans/)
   * @param mustExist a directory (the store's root) without which nothing is saved, so that a command
   *   which only reads a pipeline never creates a cache directory; omitted, `dir` is created
   */
  constructor(
    readonly dir: string,
    private readonly mustExist?: string,
  ) {}

  static key(inputs: PlanInputs): string {
    return hashJson({ format: PLAN_CACHE_FORMAT, build: BUILD, ...inputs } as unknown as Record<string, Json>);
  }

  /** The memoised plan, with `registry` holding its plugins; undefined when there is none or it no longer holds. */
  async restore(inputs: PlanInputs, registry: NodeRegistry, baseDir: string): Promise<Plan | undefined> {
    const key = PlanCache.key(inputs);
    let entry: Entry;
    try {
      entry = readEntry(readFileSync(this.entryPath(key), 'utf8')); // read before anything else can run: see Store.getAction
    } catch {
      return undefined;
    }
    if (entry === null || typeof entry !== 'object' || entry.format !== PLAN_CACHE_FORMAT || entry.key !== key) return undefined;
    try {
      for (const p of entry.plugins) await registry.loadPlugin(p.specifier, p.baseDir);
      await registry.load(Object.keys(entry.types));
    } catch {
      return undefined; // planning again reports the plugin that fails
    }
    for (const [type, want] of Object.entries(entry.types)) {
      const reg = registry.get(type);
      if (!reg || reg.node.version !== want.version || schemaHash(reg.node.paramsSchema) !== want.schema) return undefined;
    }
    try {
      return rebuild(entry, inputs, registry, baseDir);
    } catch {
      return undefined; // a node type's ports changed (or fail): planning again checks the connections
    }
  }

  /** Memoises a plan that planning produced from `inputs`; best effort (a failure only costs a re-plan). */
  async save(inputs: PlanInputs, plan: Plan): Promise<void> {
    const key = PlanCache.key(inputs);
    try {
      const text = entryText(key, plan);
      if (this.mustExist !== undefined && !(await exists(this.mustExist))) return;
      await mkdir(this.dir, { recursive: true });
      await writeFileAtomic(this.entryPath(key), text);
      await this.prune();
    } catch {
      // a read-only or full cache: planning simply is not memoised
    }
  }

  private entryPath(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  private async prune(): Promise<void> {
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.json'));
    if (names.length <= MAX_ENTRIES) return;
    const aged = await Promise.all(names.map(async (n) => ({ n, t: (await stat(join(this.dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
    aged.sort((a, b) => a.t - b.t);
    for (const { n } of aged.slice(0, names.length - MAX_ENTRIES)) await unlink(join(this.dir, n)).catch(() => undefined);
  }
}

/** Numbers distinct values (by identity) in the order they are first met. */
class Table<T> {
  readonly values: T[] = [];
  private readonly index = new Map<T, number>();
  of(value: T): number {
    let i = this.index.get(value);
    if (i === undefined) {
      this.index.set(value, (i = this.values.length));
      this.values.push(value);
    }
    return i;
  }
}

/** A plan as an entry's JSON text, its digest last. */
function entryText(key: string, plan: Plan): string {
  const types: Entry['types'] = {};
  for (const n of plan.nodes.values()) {
    types[n.typeName] ??= { version: n.registered.node.version, schema: schemaHash(n.registered.node.paramsSchema) };
  }
  const { path: _path, baseDir: _baseDir, ...file } = plan.file;
  const names = new Table<string>();
  const params = new Table<Record<string, Json>>();
  // Ports by content: the planner makes one object per resolution, most of them equal.
  const portsText = new Map<Ports, number>();
  const portsByText = new Table<string>();
  const ports: Ports[] = [];
  const portsOf = (p: Ports): number => {
    let i = portsText.get(p);
    if (i === undefined) {
      i = portsByText.of(canonicalJson(p as unknown as Json));
      if (i === ports.length) ports.push(p);
      portsText.set(p, i);
    }
    return i;
  };
  const edges = new Table<InputEdge>();
  const inputs = new Table<Record<string, InputEdge>>();
  const pointLists = new Table<number[]>();
  const assignments = new Table<Assignment>();
  const instanceIndex = new Map<string, number>();
  const instances: InstanceRow[] = [];
  for (const n of plan.nodes.values()) {
    instanceIndex.set(n.instanceId, instances.length);
    const hash = n.instanceId.lastIndexOf('#');
    const suffix = n.instanceId.slice(hash + 1);
    const id = n.instanceId.slice(0, hash) === n.nodeId && /^(0|[1-9]\d{0,8})$/.test(suffix) ? Number(suffix) : n.instanceId;
    const row: InstanceRow = [id, names.of(n.nodeId), names.of(n.typeName), params.of(n.params), n.seed, inputs.of(n.inputs), portsOf(n.ports), pointLists.of(n.points)];
    if (n.resources !== undefined) row.push(n.resources);
    instances.push(row);
  }
  const portLists = new Map<string, number>();
  const portListRows: number[][] = [];
  const inputRows = inputs.values.map((x) => {
    const ports = Object.keys(x);
    const joined = ports.join('\n');
    let list = portLists.get(joined);
    if (list === undefined) {
      portLists.set(joined, (list = portListRows.length));
      portListRows.push(ports.map((p) => names.of(p)));
    }
    const row = [list];
    for (const p of ports) row.push(edges.of(x[p]));
    return row;
  });
  const edgeRows = edges.values.map((e): EdgeRow => {
    const instance = instanceIndex.get(e.instanceId);
    if (instance === undefined) throw new Error(`an input names no instance of the plan: ${e.instanceId}`);
    return [instance, names.of(e.nodeId), names.of(e.port)];
  });
  const keyLists = new Map<string, number>();
  const pointNodeKeys: string[][] = [];
  const pointNodes = plan.pointNodes.map((m) => {
    const keys = [...m.keys()];
    const joined = keys.join('\n');
    let list = keyLists.get(joined);
    if (list === undefined) {
      keyLists.set(joined, (list = pointNodeKeys.length));
      pointNodeKeys.push(keys);
    }
    const row = [list];
    for (const id of m.values()) {
      const i = instanceIndex.get(id);
      if (i === undefined) throw new Error(`a point names no instance of the plan: ${id}`);
      row.push(i);
    }
    return row;
  });
  const points = plan.points.map((p): [number, string, number[]] => [p.index, p.id, p.assignments.map((a) => assignments.of(a))]);
  const entry: Entry = {
    format: PLAN_CACHE_FORMAT, key, plugins: plan.plugins, types, file,
    names: names.values, params: params.values, ports, edges: edgeRows, portLists: portListRows, inputs: inputRows,
    pointLists: pointLists.values, assignments: assignments.values, points, instances, pointNodeKeys, pointNodes,
    sweptPaths: plan.sweptPaths,
  };
  const content = JSON.stringify(entry);
  return `${content.slice(0, -1)}${DIGEST_FIELD}${sha256(content)}"}`;
}

/** An entry from its text, checked against its digest (an entry edited on disk is planned again). */
function readEntry(text: string): Entry {
  const at = text.lastIndexOf(DIGEST_FIELD);
  if (at < 0 || !text.endsWith('"}')) throw new Error('no digest');
  const content = `${text.slice(0, at)}}`;
  if (text.slice(at + DIGEST_FIELD.length, -2) !== sha256(content)) throw new Error('digest mismatch');
  return JSON.parse(content) as Entry;
}

/** The plan an entry describes, its ports computed again by the node types and checked against the entry's. */
function rebuild(entry: Entry, inputs: PlanInputs, registry: NodeRegistry, baseDir: string): Plan {
  const name = (i: number): string => at(entry.names, i);
  // Ports are code, not data: computed once per type, params and connected inputs, and compared
  // with the memo's (a node type whose ports changed needs its connections checked again).
  const portsOf = new Map<string, Ports>();
  const nodes = new Map<string, PlannedNode>();
  const byIndex: PlannedNode[] = [];
  const inputsObjects: (Record<string, InputEdge> | undefined)[] = [];
  // Edges are made once the instance they come from is (instances come in a topological order).
  const edges: (InputEdge | undefined)[] = [];
  const edge = (i: number): InputEdge => {
    let e = edges[i];
    if (e === undefined) {
      const [instance, nodeId, port] = at(entry.edges, i);
      edges[i] = e = { instanceId: at(byIndex, instance).instanceId, nodeId: name(nodeId), port: name(port) };
    }
    return e;
  };
  for (const [id, nodeIndex, typeIndex, params, seed, inputsIndex, portsIndex, pointsIndex, resources] of entry.instances) {
    const nodeId = name(nodeIndex);
    const typeName = name(typeIndex);
    const registered = registry.get(typeName);
    if (!registered) throw new Error(`no node type ${typeName}`);
    let connected = inputsObjects[inputsIndex];
    if (connected === undefined) {
      const [list, ...edgeIndexes] = at(entry.inputs, inputsIndex);
      const ports = at(entry.portLists, list);
      connected = {};
      for (let i = 0; i < ports.length; i++) connected[name(ports[i])] = edge(edgeIndexes[i]);
      inputsObjects[inputsIndex] = connected;
    }
    const what = `${typeName}\n${params}\n${portsIndex}\n${Object.keys(connected).join(',')}`;
    let ports = portsOf.get(what);
    if (ports === undefined) {
      ports = portsFor(registered.node, at(entry.params, params), new Set(Object.keys(connected)));
      if (canonicalJson(ports as unknown as Json) !== canonicalJson(at(entry.ports, portsIndex) as unknown as Json)) throw new Error('ports changed');
      portsOf.set(what, ports);
    }
    const instanceId = typeof id === 'number' ? `${nodeId}#${id}` : id;
    const node: PlannedNode = {
      instanceId, nodeId, typeName, registered, params: at(entry.params, params), seed, inputs: connected, ports, points: at(entry.pointLists, pointsIndex),
    };
    if (resources !== undefined) node.resources = resources;
    nodes.set(instanceId, node);
    byIndex.push(node);
  }
  return {
    file: { ...entry.file, path: inputs.path, baseDir },
    points: entry.points.map(([index, id, assignments]) => ({ index, id, assignments: assignments.map((a) => at(entry.assignments, a)) })),
    nodes,
    pointNodes: entry.pointNodes.map((row) => {
      const keys = at(entry.pointNodeKeys, row[0]);
      const m = new Map<string, string>();
      for (let i = 0; i < keys.length; i++) m.set(keys[i], at(byIndex, row[i + 1]).instanceId);
      return m;
    }),
    sweptPaths: entry.sweptPaths,
    registry,
    plugins: entry.plugins,
  };
}

/** `table[i]`, which must exist (an entry's indexes are checked, not trusted). */
function at<T>(table: readonly T[], i: number): T {
  if (!Number.isInteger(i) || i < 0 || i >= table.length) throw new RangeError(`index ${i} out of range`);
  return table[i];
}

function schemaHash(schema: Record<string, unknown>): string {
  return hashJson(schema as Record<string, Json>);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * The value of a top-level `cache: dir` line, read without parsing the YAML, to know which store to
 * look for a memo in before planning. A miss here only costs a full planning.
 */
export function peekCacheField(text: string): string | undefined {
  const m = /^cache:[ \t]*(?:"([^"\n]*)"|'([^'\n]*)'|([^\s#'"{[][^#\n]*?))[ \t]*(?:#.*)?$/m.exec(text);
  return m ? m[1] ?? m[2] ?? m[3] : undefined;
}

// The plan cache: a memo of planning (YAML parsing, schema validation with defaults, sweep
// expansion, instance merging), like Gradle's configuration cache. A plan is a pure function of the
// pipeline text, the command line's overrides and plugins, Sieve's build, and the node types it
// uses; the memo's key covers the first three, and a hit is only taken after checking the fourth
// (each type's version, params schema and ports). Only valid plans are memoised, so every error is
// still found and located by a full planning. It lives in the store (state/plans/), and nothing is
// lost by deleting it: the next run plans again. An entry keeps each distinct value once (params,
// ports, inputs objects, edges, point lists, assignments), refers to it by index, and packs its
// columns of indexes as runs (pack.ts): a plan of 10^5 points (4·10^5 instances) is 2.4 MB of JSON,
// not gigabytes, and restoring it shares those values as planning did.
import { readFileSync } from 'node:fs';
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, hashJson, sha256 } from '../keys/hash.js';
import { writeFileAtomic } from '../store/atomic-file.js';
import type { Json } from '../tensor.js';
import { portsFor, type Ports } from '../types/node-type.js';
import type { NodeRegistry } from '../types/registry.js';
import type { ResourceHints } from '../types/resources.js';
import { pack, packLists, packRows, unpack, unpackLists, unpackRows, type Packed, type PackedLists, type PackedRows } from './pack.js';
import type { Assignment } from './params.js';
import { pointId } from './point-id.js';
import type { InputEdge, LoadedPlugin, PipelineFile, Plan, PlanInputs, PlanMemo, PlannedNode } from './plan-types.js';

/** Bump when planning itself changes what it produces for the same inputs. */
const PLAN_CACHE_FORMAT = 2;
/** The memo keeps at most this many plans; the oldest go first. */
const MAX_ENTRIES = 200;
/**
 * Plans with more instances are not memoised: restoring one costs about what planning it does (both
 * make every instance; measured on the quickstart pipeline, 4·10^4 instances: planning, saving and
 * restoring ≈ 0.5 s of CPU each; 4·10^5: ≈ 3.5 s each), so the memo would only add the saving.
 */
export const MAX_MEMO_INSTANCES = 20_000;

// Replaced at bundling by a hash of the compiled sources, so that a Sieve that was rebuilt (or
// upgraded) never reads a memo another build wrote; from sources (tests, tsx) it stays undefined.
declare const __SIEVE_BUILD__: string | undefined;
const BUILD = typeof __SIEVE_BUILD__ === 'string' ? __SIEVE_BUILD__ : 'sources';

interface Entry {
  format: number;
  key: string;
  plugins: LoadedPlugin[];
  /** For each node type the plan uses: its version and the hash of its params schema. */
  types: Record<string, { version: string; schema: string }>;
  file: Omit<PipelineFile, 'path' | 'baseDir'>;
  /** The distinct values the columns below refer to by index. */
  names: string[];
  params: Record<string, Json>[];
  ports: Ports[];
  assignments: Assignment[];
  /** Lists of names (indexes in `names`): the ports of an inputs object, the node ids of a point's map. */
  nameLists: number[][];
  /**
   * The instances, in the plan's order, column by column: each one's number (its id is
   * `<nodeId>#<number>`; `ids` instead when some id is not of that form), node id and type name
   * (in `names`), params, ports, inputs, points (in their tables), and seed; resource hints of those that have them.
   */
  instances: {
    number?: Packed; ids?: string[]; node: Packed; type: Packed; params: Packed; ports: Packed; inputs: Packed; points: Packed; seed: Packed;
    resources: [number, ResourceHints][];
  };
  /** Edges: the producing instance's index, its node id and output port (in `names`). */
  edges: { instance: Packed; node: Packed; port: Packed };
  /** Inputs objects: their ports (a list in `nameLists`), then an edge (index in `edges`) per port. */
  inputs: PackedRows;
  pointLists: PackedLists;
  /** Grid points: index, assignments (in `assignments`), and ids where one is not `pointId` of its assignments. */
  points: { index: Packed; assignments: PackedRows; ids: [number, string][] };
  /** Per point: its map's node ids (a list in `nameLists`), then the index of each one's instance. */
  pointNodes: PackedRows;
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
      return undefined; // a node type's ports changed, or the entry is malformed: planning again checks everything
    }
  }

  /** Memoises a plan that planning produced from `inputs`; best effort (a failure only costs a re-plan). */
  async save(inputs: PlanInputs, plan: Plan): Promise<void> {
    if (plan.nodes.size > MAX_MEMO_INSTANCES) return;
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
  const nameLists = new Table<string>();
  const listRows: number[][] = [];
  const nameList = (list: string[]): number => {
    const i = nameLists.of(list.join('\n'));
    if (i === listRows.length) listRows.push(list.map((x) => names.of(x)));
    return i;
  };
  const params = new Table<Record<string, Json>>();
  // Ports by content: the planner makes one object per resolution, most of them equal.
  const portsIndex = new Map<Ports, number>();
  const portsByText = new Table<string>();
  const ports: Ports[] = [];
  const portsOf = (p: Ports): number => {
    let i = portsIndex.get(p);
    if (i === undefined) {
      i = portsByText.of(canonicalJson(p as unknown as Json));
      if (i === ports.length) ports.push(p);
      portsIndex.set(p, i);
    }
    return i;
  };
  const edges = new Table<InputEdge>();
  const inputs = new Table<Record<string, InputEdge>>();
  const pointLists = new Table<number[]>();
  const assignments = new Table<Assignment>();
  const instanceIndex = new Map<string, number>();
  const n = plan.nodes.size;
  const column = (): number[] => new Array<number>(n);
  const c = { number: column(), node: column(), type: column(), params: column(), ports: column(), inputs: column(), points: column(), seed: column() };
  const ids: string[] = [];
  let numbered = true;
  const resources: [number, ResourceHints][] = [];
  let i = 0;
  for (const node of plan.nodes.values()) {
    instanceIndex.set(node.instanceId, i);
    ids.push(node.instanceId);
    const m = /^(.*)#(0|[1-9]\d{0,8})$/.exec(node.instanceId);
    if (m && m[1] === node.nodeId) c.number[i] = Number(m[2]);
    else numbered = false;
    c.node[i] = names.of(node.nodeId);
    c.type[i] = names.of(node.typeName);
    c.params[i] = params.of(node.params);
    c.ports[i] = portsOf(node.ports);
    c.inputs[i] = inputs.of(node.inputs);
    c.points[i] = pointLists.of(node.points);
    c.seed[i] = node.seed;
    if (node.resources !== undefined) resources.push([i, node.resources]);
    i++;
  }
  const inputRows = inputs.values.map((x) => {
    const row = [nameList(Object.keys(x))];
    for (const e of Object.values(x)) row.push(edges.of(e));
    return row;
  });
  const edgeColumns = { instance: [] as number[], node: [] as number[], port: [] as number[] };
  for (const e of edges.values) {
    const from = instanceIndex.get(e.instanceId);
    if (from === undefined) throw new Error(`an input names no instance of the plan: ${e.instanceId}`);
    edgeColumns.instance.push(from);
    edgeColumns.node.push(names.of(e.nodeId));
    edgeColumns.port.push(names.of(e.port));
  }
  const pointNodes = plan.pointNodes.map((m) => {
    const row = [nameList([...m.keys()])];
    for (const id of m.values()) {
      const at = instanceIndex.get(id);
      if (at === undefined) throw new Error(`a point names no instance of the plan: ${id}`);
      row.push(at);
    }
    return row;
  });
  const pointIds: [number, string][] = [];
  plan.points.forEach((p, k) => {
    if (p.id !== pointId(p.assignments)) pointIds.push([k, p.id]);
  });
  const entry: Entry = {
    format: PLAN_CACHE_FORMAT, key, plugins: plan.plugins, types, file,
    names: names.values, params: params.values, ports, assignments: [], nameLists: listRows,
    instances: {
      ...(numbered ? { number: pack(c.number) } : { ids }),
      node: pack(c.node), type: pack(c.type), params: pack(c.params), ports: pack(c.ports), inputs: pack(c.inputs), points: pack(c.points), seed: pack(c.seed),
      resources,
    },
    edges: { instance: pack(edgeColumns.instance), node: pack(edgeColumns.node), port: pack(edgeColumns.port) },
    inputs: packRows(inputRows),
    pointLists: packLists(pointLists.values),
    points: {
      index: pack(plan.points.map((p) => p.index)),
      assignments: packRows(plan.points.map((p) => p.assignments.map((a) => assignments.of(a)))),
      ids: pointIds,
    },
    pointNodes: packRows(pointNodes),
    sweptPaths: plan.sweptPaths,
  };
  entry.assignments = assignments.values;
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
  const list = (i: number): string[] => at(entry.nameLists, i).map(name);
  const e = entry.instances;
  const column = { node: unpack(e.node), type: unpack(e.type), params: unpack(e.params), ports: unpack(e.ports), inputs: unpack(e.inputs), points: unpack(e.points), seed: unpack(e.seed) };
  const n = column.node.length;
  const numbers = e.number !== undefined ? unpack(e.number) : undefined;
  const ids = e.ids;
  if (numbers ? numbers.length !== n : !Array.isArray(ids) || ids.length !== n) throw new RangeError('instance columns of different lengths');
  for (const c of Object.values(column)) if (c.length !== n) throw new RangeError('instance columns of different lengths');
  const resources = new Map(e.resources);
  const edgeColumns = { instance: unpack(entry.edges.instance), node: unpack(entry.edges.node), port: unpack(entry.edges.port) };
  const inputRows = unpackRows(entry.inputs);
  const pointLists = unpackLists(entry.pointLists);
  // Ports are code, not data: computed once per type, params and connected inputs, and compared
  // with the memo's (a node type whose ports changed needs its connections checked again).
  const portsOf = new Map<string, Ports>();
  const nodes = new Map<string, PlannedNode>();
  const byIndex: PlannedNode[] = [];
  const inputsObjects: (Record<string, InputEdge> | undefined)[] = [];
  // Edges are made once the instance they come from is (instances come in a topological order).
  const edges: (InputEdge | undefined)[] = [];
  const edge = (i: number): InputEdge => {
    let made = edges[i];
    if (made === undefined) {
      if (!(i >= 0 && i < edgeColumns.instance.length)) throw new RangeError(`edge ${i} out of range`);
      edges[i] = made = { instanceId: at(byIndex, edgeColumns.instance[i]).instanceId, nodeId: name(edgeColumns.node[i]), port: name(edgeColumns.port[i]) };
    }
    return made;
  };
  for (let i = 0; i < n; i++) {
    const nodeId = name(column.node[i]);
    const typeName = name(column.type[i]);
    const registered = registry.get(typeName);
    if (!registered) throw new Error(`no node type ${typeName}`);
    let connected = inputsObjects[column.inputs[i]];
    if (connected === undefined) {
      const [ports, ...edgeIndexes] = at(inputRows, column.inputs[i]);
      const portNames = list(ports);
      if (portNames.length !== edgeIndexes.length) throw new RangeError('inputs of the wrong length');
      connected = {};
      for (let k = 0; k < portNames.length; k++) connected[portNames[k]] = edge(edgeIndexes[k]);
      inputsObjects[column.inputs[i]] = connected;
    }
    const params = at(entry.params, column.params[i]);
    const what = `${typeName}\n${column.params[i]}\n${column.ports[i]}\n${Object.keys(connected).join(',')}`;
    let ports = portsOf.get(what);
    if (ports === undefined) {
      ports = portsFor(registered.node, params, new Set(Object.keys(connected)));
      if (canonicalJson(ports as unknown as Json) !== canonicalJson(at(entry.ports, column.ports[i]) as unknown as Json)) throw new Error('ports changed');
      portsOf.set(what, ports);
    }
    const instanceId = numbers ? `${nodeId}#${numbers[i]}` : ids![i];
    const node: PlannedNode = { instanceId, nodeId, typeName, registered, params, seed: column.seed[i], inputs: connected, ports, points: at(pointLists, column.points[i]) };
    const hints = resources.get(i);
    if (hints !== undefined) node.resources = hints;
    nodes.set(instanceId, node);
    byIndex.push(node);
  }
  if (nodes.size !== n) throw new RangeError('instance ids repeat');
  const pointIndex = unpack(entry.points.index);
  const pointAssignments = unpackRows(entry.points.assignments);
  if (pointAssignments.length !== pointIndex.length) throw new RangeError('point columns of different lengths');
  const pointIds = new Map(entry.points.ids);
  const points = pointIndex.map((index, k) => {
    const assignments = pointAssignments[k].map((a) => at(entry.assignments, a));
    return { index, id: pointIds.get(k) ?? pointId(assignments), assignments };
  });
  return {
    file: { ...entry.file, path: inputs.path, baseDir },
    points,
    nodes,
    pointNodes: unpackRows(entry.pointNodes).map(([keys, ...instances]) => {
      const nodeIds = list(keys);
      if (nodeIds.length !== instances.length) throw new RangeError('a point map of the wrong length');
      const m = new Map<string, string>();
      for (let k = 0; k < nodeIds.length; k++) m.set(nodeIds[k], at(byIndex, instances[k]).instanceId);
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

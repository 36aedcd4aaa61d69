// Planning a pipeline text: parse the YAML, validate everything (collecting every problem, located
// in the file or on the command line, before anything runs), expand the sweep, and merge node
// instances that are identical across grid points.
import { dirname } from 'node:path';
import { ValidationError, type Diagnostic } from '../errors.js';
import { canonicalJson, hashJson } from '../keys/hash.js';
import { portsFor, type InputPort, type OutputPort, type Ports } from '../types/node-type.js';
import { findCycle, topologicalOrder } from './dag.js';
import {
  FORBIDDEN_KEYS, expandSweep, forbiddenSegment, parseAxisFlags, parseOverrides, schemaAt, setPath, splitList, unsetPath,
  type Assignment, type GridPoint, type SweepAxes,
} from './params.js';
import { pointId, pointValue } from './point-id.js';
import type { Json } from '../tensor.js';
import type { PluginError, RegisteredNode } from '../types/registry.js';
import type { ResourceHints } from '../types/resources.js';
import { headerOf } from './header.js';
import { NODE_ID_PATTERN, pipelineDocumentSchema } from './pipeline-schema.js';
import type { InputEdge, LoadedPlugin, NodeDecl, PipelineFile, Plan, PlannedNode, PlanOptions } from './plan-types.js';
import { SchemaValidator, yamlNumber, type Locate } from './schema.js';
import { SourceDocument, type FieldPath } from './source.js';
import { suggest } from './suggest.js';
import { TupleTable } from './tuple-table.js';

interface RawNode {
  type?: unknown;
  params?: unknown;
  inputs?: unknown;
  seed?: unknown;
  resources?: unknown;
}

const CLI = 'command line';
const NODE_ID = new RegExp(NODE_ID_PATTERN);

export async function planFromText(path: string, text: string, options: PlanOptions): Promise<Plan> {
  const validator = options.validator ?? new SchemaValidator();
  const { source, diagnostics: syntax } = SourceDocument.parse(path, text);
  // A duplicate key still parses (the last one wins), so keep checking and report it with the rest;
  // any other syntax error leaves nothing reliable to check.
  if (source.doc.errors.some((e) => e.code !== 'DUPLICATE_KEY')) throw new ValidationError(syntax);
  const diags: Diagnostic[] = [...syntax];
  const locateInFile: Locate = (p, at) => {
    const { line, column } = source.locate(p, at);
    return { file: path, line, column, field: p.join('.') };
  };
  const data = source.toData();
  if ('diagnostic' in data) throw new ValidationError([...syntax, data.diagnostic]);
  const raw = data.value as Record<string, unknown> | null;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ValidationError([{ file: path, line: 1, column: 1, field: '', message: 'expected a mapping with `name` and `nodes`' }]);
  }
  diags.push(...validator.validate(pipelineDocumentSchema, raw, [], locateInFile));

  const baseDir = dirname(path);
  const registry = options.registry;
  const pluginList = Array.isArray(raw.plugins) ? (raw.plugins as unknown[]).filter((x): x is string => typeof x === 'string') : [];
  const plugins: LoadedPlugin[] = [];
  for (const [i, spec] of pluginList.entries()) {
    plugins.push({ specifier: spec, baseDir });
    await registry.loadPlugin(spec, baseDir).catch((e: unknown) => {
      diags.push(source.diagnostic(['plugins', i], (e as PluginError).message));
    });
  }
  for (const spec of options.plugins ?? []) {
    plugins.push({ specifier: spec, baseDir: process.cwd() });
    await registry.loadPlugin(spec, process.cwd());
  }

  // Node declarations that are well-formed enough to check further.
  const rawNodes = raw.nodes !== null && typeof raw.nodes === 'object' && !Array.isArray(raw.nodes) ? (raw.nodes as Record<string, RawNode>) : {};
  await registry.load(Object.values(rawNodes).flatMap((n) => (n !== null && typeof n === 'object' && typeof n.type === 'string' ? [n.type] : [])));
  const decls: NodeDecl[] = [];
  for (const [id, n] of Object.entries(rawNodes)) {
    if (!NODE_ID.test(id) || n === null || typeof n !== 'object' || typeof n.type !== 'string') continue;
    if (!registry.get(n.type)) {
      diags.push(source.diagnostic(['nodes', id, 'type'], `unknown node type "${n.type}"${suggest(n.type, registry.types())} (known: ${registry.types().join(', ')})`));
      continue;
    }
    decls.push({
      id,
      type: n.type,
      params: isPlainObject(n.params) ? (n.params as Record<string, Json>) : {},
      inputs: isPlainObject(n.inputs) ? (n.inputs as Record<string, string>) : {},
      seed: typeof n.seed === 'number' ? n.seed : undefined,
      ...(isPlainObject(n.resources) ? { resources: n.resources as ResourceHints } : {}),
    });
  }
  for (const d of decls) for (const at of forbiddenKeys(d.params)) diags.push(source.diagnostic(['nodes', d.id, 'params', ...at], `"${at[at.length - 1]}" is not allowed as a params key`, 'key'));
  // Non-finite numbers are invalid everywhere (the schemas catch typed fields; this, free-form ones).
  for (const [at, n] of nonFinite(raw)) diags.push(source.diagnostic(at, `${yamlNumber(n)} is not a finite number`));
  const declById = new Map(decls.map((d) => [d.id, d]));
  const knownIds = new Set(Object.keys(rawNodes));

  // Command-line assignments, typed by the schema of the param they name.
  const lookup = (dotted: string): Record<string, unknown> | undefined => {
    const [nodeId, ...rest] = dotted.split('.');
    if (rest.length === 0) return nodeId === 'seed' ? { type: 'integer' } : undefined;
    if (rest.length === 1 && rest[0] === 'seed') return { type: 'integer' };
    const d = declById.get(nodeId);
    return d ? schemaAt(registry.get(d.type)!.node.paramsSchema, rest) : undefined;
  };
  const overrides = parseOverrides(options.overrides ?? [], lookup);
  const fileSweep = options.noSweep ? { grid: {}, zip: {} } : readSweep(raw.sweep);
  const axes: SweepAxes = {
    grid: { ...fileSweep.grid, ...parseAxisFlags(options.grid ?? [], '--grid', lookup) },
    zip: { ...fileSweep.zip, ...parseAxisFlags(options.zip ?? [], '--zip', lookup) },
  };
  for (const a of overrides) checkAssignmentPath(a, knownIds, diags, source);
  for (const kind of ['grid', 'zip'] as const) {
    for (const p of Object.keys(axes[kind])) {
      const fromFile = p in fileSweep[kind] && !(options[kind] ?? []).some((f) => f.startsWith(`${p}=`));
      checkAssignmentPath({ path: p, value: null, origin: fromFile ? `sweep.${kind}` : `--${kind}` }, knownIds, diags, source);
    }
  }
  // Hydra's semantics: `-p` on a swept path replaces that axis with its one value (the points keep
  // their other axes and their ids); every other `-p` is part of each point's id.
  const replacedAxes: string[] = [];
  const axisOverrides = new Map<string, Assignment>();
  for (const a of overrides) {
    for (const kind of ['grid', 'zip'] as const) {
      const values = axes[kind][a.path];
      if (!values) continue;
      axes[kind][a.path] = values.map(() => a.value).slice(0, kind === 'grid' ? 1 : values.length);
      axisOverrides.set(a.path, a);
      replacedAxes.push(`-p ${a.path}=${pointValue(a.value)} replaces the ${kind} axis ${a.path} (${values.map(pointValue).join(', ')})`);
    }
  }
  // The other `-p` assignments come first in every point (the last one of a path wins, by path).
  const fixed = [...new Map(overrides.filter((a) => !axisOverrides.has(a.path)).map((a) => [a.path, a])).values()]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  let points: GridPoint[];
  try {
    // Axes from --grid/--zip are located on the command line, not in the file's sweep section.
    const flagOf = new Map<string, string>();
    for (const kind of ['grid', 'zip'] as const) for (const f of options[kind] ?? []) flagOf.set(f.split('=')[0].trim(), `--${kind} ${f}`);
    points = expandSweep(axes, {
      grid: 'sweep.grid', zip: 'sweep.zip', prefix: fixed,
      originOf: (p) => axisOverrides.get(p)?.origin ?? flagOf.get(p),
    });
  } catch (e) {
    // Point at the flags when the axes came from the command line, else at the file's sweep section.
    const fromCli = (options.grid?.length ?? 0) + (options.zip?.length ?? 0) > 0;
    diags.push(
      fromCli
        ? { file: CLI, line: 0, column: 0, field: '--grid/--zip', message: (e as Error).message }
        : source.diagnostic(['sweep'], (e as Error).message, 'key'),
    );
    points = [{ index: 0, id: pointId(fixed), assignments: fixed }];
  }

  const pipelineSeed = typeof raw.seed === 'number' ? raw.seed : 0;
  const edges = new Map(decls.map((d) => [d.id, Object.values(d.inputs).map((ref) => String(ref).split('.')[0])]));
  const cycle = findCycle(decls.map((d) => d.id), { upstream: edges });
  if (cycle) {
    diags.push(source.diagnostic(['nodes', cycle[0], 'inputs'], `cycle: ${cycle.join(' → ')}`));
  }

  // Per point: resolve params (validated, defaults filled) and ports. A node's resolution depends
  // only on the assignments that reach it, so it is done once per distinct set of them (a grid of
  // 10^5 points validates each node a handful of times, not 10^5 times).
  // A problem found at some points only is reported once, with the points named.
  const found = new Map<string, { d: Diagnostic; points: Set<string> }>();
  const reportAt = (d: Diagnostic, pointId: string): void => {
    const id = `${d.file}:${d.line}:${d.column}:${d.field}:${d.message}`;
    const entry = found.get(id) ?? { d, points: new Set<string>() };
    found.set(id, entry);
    entry.points.add(pointId);
  };
  const resolutions = decls.map(() => new Map<string, Resolution>());
  const resolve = (di: number, assignments: readonly Assignment[], seedForAll: number): Resolution => {
    const d = decls[di];
    const mine: [string[], Assignment][] = [];
    for (const a of assignments) {
      const [nodeId, ...rest] = a.path.split('.');
      if (nodeId === d.id && rest.length > 0 && forbiddenSegment(rest) === undefined) mine.push([rest, a]);
    }
    const signature = `${seedForAll}\u0000${mine.map(([rest, a]) => `${rest.join('.')}\u0001${a.origin}\u0001${valueKey(a.value)}`).join('\u0000')}`;
    const known = resolutions[di].get(signature);
    if (known) return known;
    let p = nullPrototypeCopy(d.params) as Record<string, Json>;
    let seed = d.seed ?? seedForAll;
    const assigned = new Map<string, Assignment>();
    for (const [rest, a] of mine) {
      if (rest.length === 1 && rest[0] === 'seed') seed = Number(a.value);
      else {
        // null unsets the param (its default applies): a sweep can switch a param off for some points.
        p = a.value === null ? unsetPath(p, rest) : setPath(p, rest, a.value);
        assigned.set(rest.join('.'), a);
      }
    }
    const reg = registry.get(d.type)!;
    const locate: Locate = (fieldPath, at) => {
      const rel = fieldPath.slice(3).map(String);
      for (const [dotted, a] of assigned) {
        const parts = dotted.split('.');
        if (parts.every((s, i) => rel[i] === s) || rel.every((s, i) => parts[i] === s)) {
          if (a.origin.startsWith('sweep.')) return locateInFile(['sweep', a.origin.slice(6), `${d.id}.${dotted}`], 'key');
          return { file: CLI, line: 0, column: 0, field: `${fieldPath.join('.')} (from ${a.origin})` };
        }
      }
      return locateInFile(fieldPath, at);
    };
    const paramDiags = validator.validate(reg.node.paramsSchema, p, ['nodes', d.id, 'params'], locate).map((diag) => gridHint(diag, assigned));
    // A non-finite number in the file is reported once, above, wherever it is.
    const problems = paramDiags.filter((x) => x.file === CLI || !x.message.includes('(not a finite number)'));
    let ports: Ports | undefined;
    if (paramDiags.length === 0) {
      try {
        ports = portsFor(reg.node, p, new Set(Object.keys(d.inputs)));
      } catch (e) {
        problems.push(source.diagnostic(['nodes', d.id, 'params'], (e as Error).message));
      }
      // What the node type can check without data: param combinations, the files they name.
      for (const problem of reg.node.check?.(p, { baseDir, connected: new Set(Object.keys(d.inputs)), files: Boolean(options.checkFiles) }) ?? []) {
        problems.push({ ...locate(['nodes', d.id, 'params', ...problem.path], 'value'), message: problem.message });
      }
    }
    // Every field set here, so that all resolutions have one shape.
    const r: Resolution = { params: p, seed, ports, problems, canon: -1, portsId: -1 };
    resolutions[di].set(signature, r);
    return r;
  };
  const declIndex = new Map(decls.map((d, i) => [d.id, i]));
  const upstreamOf = decls.map((d) => [...new Set(Object.values(d.inputs).map((ref) => declIndex.get(String(ref).split('.')[0])).filter((i): i is number => i !== undefined))]);
  const resolved = resolveAtPoints(decls, points, upstreamOf, {
    resolve: (di, assignments) => {
      let seedForAll = pipelineSeed;
      for (const a of assignments) if (a.path === 'seed') seedForAll = Number(a.value); // -p overrides included
      return resolve(di, assignments, seedForAll);
    },
    checkInputs: (di, ports) => {
      const problems: Diagnostic[] = [];
      checkInputs(decls[di], ports, knownIds, source, (x) => problems.push(x));
      return problems;
    },
    report: reportAt,
  });
  for (const { d, points: where } of found.values()) {
    const at = [...where];
    if (at.length === points.length) diags.push(d);
    else {
      const names = at.slice(0, 3).join('; ') + (at.length > 3 ? `; and ${at.length - 3} more` : '');
      diags.push({ ...d, message: `${d.message} (at grid point${at.length > 1 ? 's' : ''} ${names})` });
    }
  }
  if (diags.length > 0) {
    diags.sort((a, b) => (a.file === b.file ? a.line - b.line || a.column - b.column : a.file === CLI ? 1 : -1));
    throw new ValidationError(diags);
  }

  const order = topologicalOrder(decls.map((d) => d.id), { upstream: edges })!.map((id) => declIndex.get(id)!);
  const { nodes, pointNodes } = makeInstances(decls, order, points, resolved, {
    upstreamOf, declIndex,
    registered: decls.map((d) => registry.get(d.type)!),
  });
  const file: PipelineFile = {
    path,
    baseDir,
    ...headerOf(raw),
    seed: pipelineSeed,
    nodes: decls,
    sweep: axes,
    ...(replacedAxes.length > 0 ? { notes: replacedAxes } : {}),
  };
  return {
    file, points, nodes, pointNodes, registry, plugins,
    sweptPaths: [...Object.keys(axes.grid), ...Object.keys(axes.zip)],
  };
}

/** A node's params and ports at some points (its declaration with the assignments that reach it). */
interface Resolution {
  params: Record<string, Json>;
  seed: number;
  ports?: Ports;
  /** What is wrong with it, reported for every point that uses it. */
  problems: Diagnostic[];
  /** Its number among the node's resolutions with distinct type, version, params and seed (see makeInstances); -1 until known. */
  canon: number;
  /** Its ports, numbered by content (see resolveAtPoints); -1 until known. */
  portsId: number;
}

/**
 * For each declaration, its resolution at each point. A declaration's resolution depends only on
 * the assignments that reach it, so `resolve` is called once per distinct set of their values (a
 * grid of 10^5 points validates each node a handful of times, not 10^5 times), and inputs are
 * checked once per distinct set of ports (the node's and its upstream nodes'). Every problem is
 * reported at every point that has it.
 */
function resolveAtPoints(
  decls: readonly NodeDecl[],
  points: readonly GridPoint[],
  upstreamOf: readonly number[][],
  how: {
    resolve: (di: number, assignments: readonly Assignment[]) => Resolution;
    checkInputs: (di: number, ports: Map<string, Ports>) => Diagnostic[];
    report: (problem: Diagnostic, pointId: string) => void;
  },
): Resolution[][] {
  // Every point assigns the same paths in the same order (expandSweep): which positions reach
  // which declaration is found once, and a point's values are numbered per position.
  const template = points[0].assignments;
  const positions = decls.map((d) => template.flatMap((a, k) => (a.path === 'seed' || a.path.split('.')[0] === d.id ? [k] : [])));
  const valueIdAt = template.map((_a, k) => {
    const ids = new Int32Array(points.length);
    const seen = new Map<unknown, number>();
    for (let pi = 0; pi < points.length; pi++) {
      const v = points[pi].assignments[k].value;
      let id = seen.get(v);
      if (id === undefined) seen.set(v, (id = seen.size));
      ids[pi] = id;
    }
    return ids;
  });
  // A declaration's signature at a point: the numbers of the values that reach it.
  const bySignature = positions.map((ks) => new TupleTable(ks.length, 64));
  const resolutionsOf: Resolution[][] = decls.map(() => []);
  const signature = new Int32Array(template.length);
  // Ports numbered by content, so that inputs are checked once per distinct set of them.
  const portsIds = new Map<string, number>();
  const portsId = (r: Resolution): number => {
    if (r.portsId < 0) {
      const text = r.ports ? canonicalJson(r.ports as unknown as Record<string, unknown>) : '';
      let id = portsIds.get(text);
      if (id === undefined) portsIds.set(text, (id = portsIds.size));
      r.portsId = id;
    }
    return r.portsId;
  };
  const inputProblems = new Map<string, Diagnostic[]>();
  const lastInputProblems: Diagnostic[][] = decls.map(() => []);
  const resolved: Resolution[][] = decls.map(() => new Array<Resolution>(points.length));
  for (let pi = 0; pi < points.length; pi++) {
    const point = points[pi];
    for (let di = 0; di < decls.length; di++) {
      const ks = positions[di];
      let r: Resolution;
      if (pi > 0 && ks.length === 0) r = resolved[di][0]; // nothing the sweep assigns reaches it
      else {
        for (let j = 0; j < ks.length; j++) signature[j] = valueIdAt[ks[j]][pi];
        const n = bySignature[di].find(signature);
        if (n >= 0) r = resolutionsOf[di][n];
        else {
          r = how.resolve(di, point.assignments);
          resolutionsOf[di][bySignature[di].add(signature)] = r;
        }
      }
      resolved[di][pi] = r;
      for (const problem of r.problems) how.report(problem, point.id);
    }
    for (let di = 0; di < decls.length; di++) {
      const ups = upstreamOf[di];
      let same = pi > 0 && portsId(resolved[di][pi]) === portsId(resolved[di][pi - 1]);
      for (let j = 0; same && j < ups.length; j++) same = portsId(resolved[ups[j]][pi]) === portsId(resolved[ups[j]][pi - 1]);
      if (!same) {
        let key = `${di}:${portsId(resolved[di][pi])}`;
        for (const u of ups) key += `,${portsId(resolved[u][pi])}`;
        let problems = inputProblems.get(key);
        if (problems === undefined) {
          const ports = new Map<string, Ports>();
          for (const i of [di, ...ups]) if (resolved[i][pi].ports) ports.set(decls[i].id, resolved[i][pi].ports!);
          inputProblems.set(key, (problems = how.checkInputs(di, ports)));
        }
        lastInputProblems[di] = problems;
      }
      for (const problem of lastInputProblems[di]) how.report(problem, point.id);
    }
  }
  return resolved;
}

/**
 * The plan's instances and each point's: declaration by declaration in a topological order, so
 * instances are made in the order the executor wants (node position, then first point) and each
 * one's points come in ascending order. An instance is identified by its resolution's content and
 * the instances its inputs come from.
 */
function makeInstances(
  decls: readonly NodeDecl[],
  order: readonly number[],
  points: readonly GridPoint[],
  resolved: readonly Resolution[][],
  context: {
    upstreamOf: readonly number[][];
    declIndex: ReadonlyMap<string, number>;
    registered: readonly RegisteredNode[];
  },
): { nodes: Map<string, PlannedNode>; pointNodes: Map<string, string>[] } {
  const { upstreamOf, declIndex, registered } = context;
  const nodes = new Map<string, PlannedNode>();
  /** For each declaration, the number of its instance at each point (among the declaration's). */
  const instanceOf: Int32Array[] = decls.map(() => new Int32Array(points.length));
  /** For each declaration, its instances. */
  const instancesOf: PlannedNode[][] = decls.map(() => []);
  /** For each output (`<node>.<port>`), its edges by the number of the producing instance. */
  const edgesFrom = new Map<string, { port: string; edges: InputEdge[] }>();
  for (const di of order) {
    const d = decls[di];
    const ups = upstreamOf[di];
    const { count, firstPoint, size } = numberInstances(d, registered[di], points.length, resolved[di], ups.map((u) => instanceOf[u]), instanceOf[di]);
    createInstances(di, d, registered[di], count, firstPoint, size, points, resolved, { ups, instanceOf, instancesOf, declIndex, edgesFrom }, instancesOf[di], nodes);
    fillPoints(points, instanceOf[di], instancesOf[di], size);
  }
  return { nodes, pointNodes: pointNodesOf(decls, order, points.length, instanceOf, instancesOf) };
}

/** For each point, node id → instance id. */
function pointNodesOf(decls: readonly NodeDecl[], order: readonly number[], n: number, instanceOf: readonly Int32Array[], instancesOf: readonly PlannedNode[][]): Map<string, string>[] {
  const pointNodes = new Array<Map<string, string>>(n);
  for (let pi = 0; pi < n; pi++) {
    const m = new Map<string, string>();
    for (const di of order) m.set(decls[di].id, instancesOf[di][instanceOf[di][pi]].instanceId);
    pointNodes[pi] = m;
  }
  return pointNodes;
}

/**
 * Makes a declaration's instances (see numberInstances), in the order of their first points, into
 * `mine` and `nodes`. Instances fed by the same upstream instances share their (read-only) inputs
 * object, and an edge from an instance's output is shared by every input that reads it.
 */
function createInstances(
  di: number,
  d: NodeDecl,
  reg: RegisteredNode,
  count: number,
  firstPoint: Int32Array,
  size: Int32Array,
  points: readonly GridPoint[],
  resolved: readonly Resolution[][],
  graph: {
    ups: readonly number[];
    instanceOf: readonly Int32Array[];
    instancesOf: readonly PlannedNode[][];
    declIndex: ReadonlyMap<string, number>;
    edgesFrom: Map<string, { port: string; edges: InputEdge[] }>;
  },
  mine: PlannedNode[],
  nodes: Map<string, PlannedNode>,
): void {
  const { ups, instanceOf, instancesOf, declIndex, edgesFrom } = graph;
  const refs = Object.entries(d.inputs).map(([port, ref]) => ({ port, from: String(ref).split('.')[0], ref: String(ref), outputs: new Map<Ports | undefined, { port: string; edges: InputEdge[] }>() }));
  const fromIndex = refs.map((x) => declIndex.get(x.from)!);
  const byUpstream = new TupleTable(ups.length, 64);
  const upstream = new Int32Array(ups.length);
  const inputsOf: Record<string, InputEdge>[] = [];
  for (let j = 0; j < count; j++) {
    const pi = firstPoint[j];
    const r = resolved[di][pi];
    for (let k = 0; k < ups.length; k++) upstream[k] = instanceOf[ups[k]][pi];
    const u = byUpstream.intern(upstream);
    let inputs = inputsOf[u];
    if (inputs === undefined) {
      inputs = {};
      for (let i = 0; i < refs.length; i++) {
        const x = refs[i];
        const producer = resolved[fromIndex[i]][pi].ports;
        let output = x.outputs.get(producer);
        if (output === undefined) {
          const port = parseRef(x.ref, producer)[1]!;
          output = edgesFrom.get(`${x.from}.${port}`);
          if (output === undefined) edgesFrom.set(`${x.from}.${port}`, (output = { port, edges: [] }));
          x.outputs.set(producer, output);
        }
        const from = instanceOf[fromIndex[i]][pi];
        let edge = output.edges[from];
        if (edge === undefined) output.edges[from] = edge = { instanceId: instancesOf[fromIndex[i]][from].instanceId, nodeId: x.from, port: output.port };
        inputs[x.port] = edge;
      }
      inputsOf[u] = inputs;
    }
    // An instance has the points of each of its upstream instances, so where it has as many as one
    // of them, it has the same: it shares that (read-only) array.
    let shared: number[] | undefined;
    for (let k = 0; k < ups.length && shared === undefined; k++) {
      const theirs = instancesOf[ups[k]][upstream[k]].points;
      if (theirs.length === size[j]) shared = theirs;
    }
    // Unique in the plan: the node id and the count of its instances before this one.
    const instanceId = `${d.id}#${j}`;
    const node: PlannedNode = {
      instanceId, nodeId: d.id, typeName: d.type, registered: reg, params: r.params, seed: r.seed, inputs, ports: r.ports!,
      points: shared ?? (size[j] === 1 ? [points[pi].index] : []),
    };
    if (d.resources) node.resources = d.resources;
    mine.push(node);
    nodes.set(instanceId, node);
  }
}

/**
 * Numbers a declaration's instances (0, 1, ... in the order of their first points) into `mine`, the
 * instance at each point: one per distinct [resolution content, upstream instances].
 */
function numberInstances(
  d: NodeDecl,
  reg: RegisteredNode,
  n: number,
  resolved: readonly Resolution[],
  upstream: readonly Int32Array[],
  mine: Int32Array,
): { count: number; firstPoint: Int32Array; size: Int32Array } {
  // Resolutions with equal content (a swept value equal to the default, say) are one.
  const canonical = new Map<string, number>();
  const canonOf = (r: Resolution): number => {
    if (r.canon < 0) {
      const h = hashJson({ type: d.type, version: reg.node.version, params: r.params, seed: r.seed });
      let c = canonical.get(h);
      if (c === undefined) canonical.set(h, (c = canonical.size));
      r.canon = c;
    }
    return r.canon;
  };
  const byIdentity = new TupleTable(1 + upstream.length, 64);
  const identity = new Int32Array(1 + upstream.length);
  let firstPoint: Int32Array = new Int32Array(64);
  let size: Int32Array = new Int32Array(64);
  for (let pi = 0; pi < n; pi++) {
    const r = resolved[pi];
    // The same resolution fed by the same instances as at the previous point: the same instance.
    let same = pi > 0 && r === resolved[pi - 1];
    for (let k = 0; same && k < upstream.length; k++) same = upstream[k][pi] === upstream[k][pi - 1];
    if (same) {
      size[(mine[pi] = mine[pi - 1])]++;
      continue;
    }
    identity[0] = canonOf(r);
    for (let k = 0; k < upstream.length; k++) identity[k + 1] = upstream[k][pi];
    let j = byIdentity.find(identity);
    if (j < 0) {
      j = byIdentity.add(identity);
      if (j === firstPoint.length) {
        firstPoint = grown(firstPoint);
        size = grown(size);
      }
      firstPoint[j] = pi;
    }
    mine[pi] = j;
    size[j]++;
  }
  return { count: byIdentity.size, firstPoint, size };
}

function grown(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/** Fills the points arrays of the instances that have one of their own (not shared, more than one point). */
function fillPoints(points: readonly GridPoint[], mine: Int32Array, instances: readonly PlannedNode[], size: Int32Array): void {
  const filling = new Uint8Array(instances.length);
  for (let j = 0; j < instances.length; j++) filling[j] = size[j] > 1 && instances[j].points.length === 0 ? 1 : 0;
  for (let pi = 0; pi < points.length; pi++) {
    const j = mine[pi];
    if (filling[j] === 1) instances[j].points.push(points[pi].index);
  }
}

/** A value as text that tells apart what JSON would merge (NaN, ±Infinity and null). */
function valueKey(v: Json): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? { $number: String(x) } : x));
}

/** Paths (and values) of the non-finite numbers in `value`. */
function nonFinite(value: unknown, at: string[] = []): [string[], number][] {
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [[at, value]];
  if (value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => nonFinite(v, [...at, String(i)]));
  return Object.keys(value).flatMap((k) => nonFinite((value as Record<string, unknown>)[k], [...at, k]));
}

/** Paths of keys in `value` that would reach a prototype (`__proto__`, `constructor`, `prototype`). */
function forbiddenKeys(value: unknown, at: string[] = []): string[][] {
  if (value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => forbiddenKeys(v, [...at, String(i)]));
  return Object.keys(value).flatMap((k) => (FORBIDDEN_KEYS.has(k) ? [[...at, k]] : forbiddenKeys((value as Record<string, unknown>)[k], [...at, k])));
}

/** A deep copy whose objects have no prototype: no params key or path can reach Object.prototype. */
function nullPrototypeCopy(value: Json): Json {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(nullPrototypeCopy);
  const out = Object.create(null) as Record<string, Json>;
  for (const k of Object.keys(value)) if (!FORBIDDEN_KEYS.has(k)) out[k] = nullPrototypeCopy(value[k]);
  return out;
}

function isPlainObject(x: unknown): boolean {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** The file's sweep axes; one that is not a non-empty list is left out (the document schema reports it, located). */
function readSweep(sweep: unknown): SweepAxes {
  const s = (isPlainObject(sweep) ? sweep : {}) as { grid?: unknown; zip?: unknown };
  const axes: SweepAxes = { grid: {}, zip: {} };
  for (const kind of ['grid', 'zip'] as const) {
    if (!isPlainObject(s[kind])) continue;
    for (const [path, values] of Object.entries(s[kind] as Record<string, unknown>)) {
      if (Array.isArray(values) && values.length > 0) axes[kind][path] = values as Json[];
    }
  }
  return axes;
}

/** A `-p` value with commas that failed its type was meant as several values: say to use --grid. */
function gridHint(d: Diagnostic, assigned: ReadonlyMap<string, Assignment>): Diagnostic {
  for (const a of assigned.values()) {
    if (!a.origin.startsWith('-p ') || !d.field.includes(`(from ${a.origin})`)) continue;
    const raw = a.origin.slice(3).split('=').slice(1).join('=');
    if (splitList(raw).length > 1 && typeof a.value === 'string') {
      return { ...d, message: `${d.message}; to run several values, use --grid ${a.origin.slice(3)}` };
    }
  }
  return d;
}

function checkAssignmentPath(a: Assignment, knownIds: Set<string>, diags: Diagnostic[], source: SourceDocument): void {
  if (a.path === 'seed') return;
  const [nodeId, ...rest] = a.path.split('.');
  const bad = forbiddenSegment(a.path.split('.'));
  const problem = bad !== undefined
    ? `"${bad}" is not allowed in a param path`
    : !knownIds.has(nodeId)
    ? `no node "${nodeId}" in this pipeline${suggest(nodeId, knownIds)} (nodes: ${[...knownIds].join(', ')})`
    : rest.length === 0
      ? 'expected <node>.<param>, e.g. relabel.absorb'
      : undefined;
  if (!problem) return;
  if (a.origin.startsWith('sweep.')) diags.push(source.diagnostic(['sweep', a.origin.slice(6), a.path], problem, 'key'));
  else diags.push({ file: CLI, line: 0, column: 0, field: `${a.path} (from ${a.origin})`, message: problem });
}

/** Splits `node.port` / `node`; the port is undefined when it cannot be inferred. */
function parseRef(ref: string, producerPorts: Ports | undefined): [string, string | undefined] {
  const [from, port] = String(ref).split('.');
  if (port !== undefined) return [from, port];
  const outs = producerPorts ? Object.keys(producerPorts.outputs) : [];
  return [from, outs.length === 1 ? outs[0] : undefined];
}

function describePort(p: InputPort | OutputPort): string {
  if (p.kind !== 'tensor') return p.kind;
  const dt = p.dtype === undefined ? 'any dtype' : ([] as string[]).concat(p.dtype).join('|');
  return `tensor ${dt}${p.rank === undefined ? '' : ` rank ${p.rank}`}`;
}

export function portsCompatible(want: InputPort, have: OutputPort): boolean {
  if (want.kind === 'any') return true;
  if (want.kind !== have.kind) return false;
  if (want.kind === 'tensor' && have.kind === 'tensor') {
    if (want.rank !== undefined && have.rank !== undefined && want.rank !== have.rank) return false;
    if (want.dtype !== undefined && have.dtype !== undefined) {
      const w = ([] as string[]).concat(want.dtype);
      if (!([] as string[]).concat(have.dtype).some((d) => w.includes(d))) return false;
    }
  }
  return true;
}

function checkInputs(
  d: NodeDecl,
  ports: Map<string, Ports>,
  knownIds: ReadonlySet<string>,
  source: SourceDocument,
  report: (d: Diagnostic) => void,
): void {
  const mine = ports.get(d.id);
  if (!mine) return;
  for (const [port, ref] of Object.entries(d.inputs)) {
    const at: FieldPath = ['nodes', d.id, 'inputs', port];
    const want = mine.inputs[port];
    if (!want) {
      report(source.diagnostic(at, `unknown input "${port}" for ${d.type}${suggest(port, Object.keys(mine.inputs))} (inputs: ${Object.keys(mine.inputs).join(', ') || 'none'})`, 'key'));
      continue;
    }
    const [from, fromPort] = String(ref).split('.');
    if (!knownIds.has(from)) {
      report(source.diagnostic(at, `"${ref}" names no node in this pipeline${suggest(from, knownIds)} (nodes: ${[...knownIds].join(', ')})`));
      continue;
    }
    // A node with an invalid declaration has no ports; its own error is reported already.
    const theirs = ports.get(from);
    if (!theirs) continue;
    const outs = Object.keys(theirs.outputs);
    const portName = fromPort ?? (outs.length === 1 ? outs[0] : undefined);
    if (portName === undefined) {
      report(source.diagnostic(at, `node "${from}" has several outputs (${outs.join(', ')}): write ${from}.<output>`));
      continue;
    }
    const have = theirs.outputs[portName];
    if (!have) {
      report(source.diagnostic(at, `node "${from}" has no output "${portName}"${suggest(portName, outs)} (outputs: ${outs.join(', ')})`));
      continue;
    }
    if (!portsCompatible(want, have)) {
      report(source.diagnostic(at, `input "${port}" expects ${describePort(want)}, but ${from}.${portName} is ${describePort(have)}`));
    }
  }
  for (const [port, spec] of Object.entries(mine.inputs)) {
    if (!spec.optional && !(port in d.inputs)) {
      report(source.diagnostic(['nodes', d.id], `missing input "${port}" (${describePort(spec)})`, 'key'));
    }
  }
}

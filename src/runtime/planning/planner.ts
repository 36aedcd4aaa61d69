// Planning a pipeline text: parse the YAML, validate everything (collecting every problem, located
// in the file or on the command line, before anything runs), expand the sweep, and merge node
// instances that are identical across grid points.
import { dirname } from 'node:path';
import { ValidationError, type Diagnostic } from '../errors.js';
import { canonicalJson, hashJson } from '../keys/hash.js';
import { portsFor, type InputPort, type OutputPort, type Ports } from '../types/node-type.js';
import { findCycle, topologicalOrder } from './dag.js';
import {
  FORBIDDEN_KEYS, expandSweep, forbiddenSegment, parseAxisFlags, parseOverrides, pointId, pointValue, schemaAt, setPath, splitList, unsetPath,
  type Assignment, type GridPoint, type SweepAxes,
} from './params.js';
import type { Json } from '../tensor.js';
import type { PluginError } from '../types/registry.js';
import type { ResourceHints } from '../types/resources.js';
import { NODE_ID_PATTERN, pipelineDocumentSchema } from './pipeline-schema.js';
import type { InputEdge, LoadedPlugin, NodeDecl, PipelineFile, Plan, PlannedNode, PlanOptions } from './plan-types.js';
import { SchemaValidator, yamlNumber, type Locate } from './schema.js';
import { SourceDocument, type FieldPath } from './source.js';
import { suggest } from './suggest.js';

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
  let current = '';
  const pushOnce = (d: Diagnostic): void => {
    const id = `${d.file}:${d.line}:${d.column}:${d.field}:${d.message}`;
    const entry = found.get(id) ?? { d, points: new Set<string>() };
    found.set(id, entry);
    entry.points.add(current);
  };
  interface Resolution {
    id: number;
    params: Record<string, Json>;
    seed: number;
    ports?: Ports;
    /** The first resolution with the same type, version, params and seed (see canonOf). */
    canon?: number;
    /** What is wrong with it, reported for every point that uses it. */
    problems: Diagnostic[];
    /** Its ports, numbered by content (see portsId). */
    portsId?: number;
  }
  const resolutions = decls.map(() => new Map<string, Resolution>());
  let nextResolution = 0;
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
    const r: Resolution = { id: nextResolution++, params: p, seed, problems };
    if (paramDiags.length === 0) {
      try {
        r.ports = portsFor(reg.node, p, new Set(Object.keys(d.inputs)));
      } catch (e) {
        problems.push(source.diagnostic(['nodes', d.id, 'params'], (e as Error).message));
      }
      // What the node type can check without data: param combinations, the files they name.
      for (const problem of reg.node.check?.(p, { baseDir, connected: new Set(Object.keys(d.inputs)), files: Boolean(options.checkFiles) }) ?? []) {
        problems.push({ ...locate(['nodes', d.id, 'params', ...problem.path], 'value'), message: problem.message });
      }
    }
    resolutions[di].set(signature, r);
    return r;
  };
  const declIndex = new Map(decls.map((d, i) => [d.id, i]));
  const upstreamOf = decls.map((d) => [...new Set(Object.values(d.inputs).map((ref) => declIndex.get(String(ref).split('.')[0])).filter((i): i is number => i !== undefined))]);
  // Every point assigns the same paths in the same order (expandSweep): which positions reach
  // which declaration is found once, and a point's values are told apart by small numbers.
  const template = points[0].assignments;
  const positions = decls.map((d) => template.flatMap((a, k) => (a.path === 'seed' || a.path.split('.')[0] === d.id ? [k] : [])));
  const radix: number[] = [];
  const valueIdAt = template.map((_a, k) => {
    const ids = new Int32Array(points.length);
    const seen = new Map<unknown, number>();
    for (let pi = 0; pi < points.length; pi++) {
      const v = points[pi].assignments[k].value;
      let id = seen.get(v);
      if (id === undefined) seen.set(v, (id = seen.size));
      ids[pi] = id;
    }
    radix[k] = seen.size;
    return ids;
  });
  // A declaration's signature at a point: the ids of the values that reach it, as one number
  // (mixed radix) when that is exact, else as text.
  const numericSignature = positions.map((ks) => ks.reduce((n, k) => n * radix[k], 1) <= Number.MAX_SAFE_INTEGER);
  const signatureAt = (di: number, pi: number): number | string => {
    const ks = positions[di];
    if (!numericSignature[di]) return ks.map((k) => valueIdAt[k][pi]).join(',');
    let n = 0;
    for (let j = 0; j < ks.length; j++) n = n * radix[ks[j]] + valueIdAt[ks[j]][pi];
    return n;
  };
  const resolutionBySignature = decls.map(() => new Map<number | string, Resolution>());
  // Inputs are checked once per distinct set of ports (the node's and its upstream nodes'); their
  // problems are reported at every point with that set.
  const portsIds = new Map<string, number>();
  const portsId = (r: Resolution): number => {
    if (r.portsId === undefined) {
      const text = r.ports ? canonicalJson(r.ports as unknown as Record<string, unknown>) : '';
      let id = portsIds.get(text);
      if (id === undefined) portsIds.set(text, (id = portsIds.size));
      r.portsId = id;
    }
    return r.portsId;
  };
  const inputProblems = new Map<string, Diagnostic[]>();
  const lastInputProblems: Diagnostic[][] = decls.map(() => []);
  /** For each declaration, the resolution at each point. */
  const resolved: Resolution[][] = decls.map(() => new Array<Resolution>(points.length));
  for (let pi = 0; pi < points.length; pi++) {
    const point = points[pi];
    current = point.id;
    let seedForAll: number | undefined;
    for (let di = 0; di < decls.length; di++) {
      let r: Resolution | undefined;
      if (pi > 0 && positions[di].length === 0) r = resolved[di][0]; // nothing the sweep assigns reaches it
      else {
        const signature = signatureAt(di, pi);
        r = resolutionBySignature[di].get(signature);
        if (r === undefined) {
          if (seedForAll === undefined) {
            seedForAll = pipelineSeed;
            for (const a of point.assignments) if (a.path === 'seed') seedForAll = Number(a.value); // -p overrides included
          }
          r = resolve(di, point.assignments, seedForAll);
          resolutionBySignature[di].set(signature, r);
        }
      }
      resolved[di][pi] = r;
      for (const problem of r.problems) pushOnce(problem);
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
          const seen: Diagnostic[] = [];
          checkInputs(decls[di], ports, knownIds, source, (x) => seen.push(x));
          inputProblems.set(key, (problems = seen));
        }
        lastInputProblems[di] = problems;
      }
      for (const problem of lastInputProblems[di]) pushOnce(problem);
    }
  }
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

  // Instances: declaration by declaration in a topological order, point by point, so instances are
  // made in the order the executor wants (node position, then first point) and each one's points
  // come in ascending order. Identity: the resolution and the instances the inputs come from, as
  // one number (mixed radix over the counts of those) when that is exact, else as text.
  const order = topologicalOrder(decls.map((d) => d.id), { upstream: edges })!.map((id) => declIndex.get(id)!);
  const ordered = new Map<string, PlannedNode>();
  /** For each declaration, the number (in `instances`) of its instance at each point. */
  const instanceOf: Int32Array[] = decls.map(() => new Int32Array(points.length));
  /** For each declaration, the number of its first instance and how many it has. */
  const firstInstance = new Int32Array(decls.length);
  const instanceCount = new Int32Array(decls.length);
  const instances: PlannedNode[] = [];
  const noPoints: number[] = [];
  for (const di of order) {
    const d = decls[di];
    const reg = registry.get(d.type)!;
    const refs = Object.entries(d.inputs).map(([port, ref]) => ({ port, from: String(ref).split('.')[0], ref: String(ref), ports: new Map<Ports | undefined, string>(), edges: new Map<number, InputEdge>() }));
    const fromIndex = refs.map((x) => declIndex.get(x.from)!);
    const ups = upstreamOf[di];
    const mine = instanceOf[di];
    const first = instances.length;
    firstInstance[di] = first;
    // Resolutions with equal content (a swept value equal to the default, say) are one.
    const canonical = new Map<string, number>();
    const canonOf = (r: Resolution): number => {
      if (r.canon === undefined) {
        const h = hashJson({ type: d.type, version: reg.node.version, params: r.params, seed: r.seed });
        let c = canonical.get(h);
        if (c === undefined) canonical.set(h, (c = canonical.size));
        r.canon = c;
      }
      return r.canon;
    };
    const numeric = ups.reduce((n, u) => n * instanceCount[u], resolutions[di].size) <= Number.MAX_SAFE_INTEGER;
    const byIdentity = new Map<number | string, number>();
    // Instances fed by the same upstream instances share their (read-only) inputs object.
    const inputsByUpstream = new Map<number | string, Record<string, InputEdge>>();
    const counts: number[] = [];
    for (let pi = 0; pi < points.length; pi++) {
      const r = resolved[di][pi];
      // The same resolution fed by the same instances as at the previous point: the same instance.
      let same = pi > 0 && r === resolved[di][pi - 1];
      for (let j = 0; same && j < ups.length; j++) same = instanceOf[ups[j]][pi] === instanceOf[ups[j]][pi - 1];
      if (same) {
        const num = (mine[pi] = mine[pi - 1]);
        counts[num - first]++;
        continue;
      }
      let upstream: number | string = 0;
      if (numeric) for (const u of ups) upstream = upstream * instanceCount[u] + (instanceOf[u][pi] - firstInstance[u]);
      else for (const u of ups) upstream = `${upstream},${instanceOf[u][pi]}`;
      const canon = canonOf(r);
      const identity = numeric ? (upstream as number) * resolutions[di].size + canon : `${canon}:${upstream}`;
      let num = byIdentity.get(identity);
      if (num === undefined) {
        let inputs = inputsByUpstream.get(upstream);
        if (inputs === undefined) {
          inputs = {};
          for (let i = 0; i < refs.length; i++) {
            const x = refs[i];
            const from = instanceOf[fromIndex[i]][pi];
            let edge = x.edges.get(from);
            if (edge === undefined) {
              const producer = resolved[fromIndex[i]][pi].ports;
              let fromPort = x.ports.get(producer);
              if (fromPort === undefined) x.ports.set(producer, (fromPort = parseRef(x.ref, producer)[1]!));
              x.edges.set(from, (edge = { instanceId: instances[from].instanceId, nodeId: x.from, port: fromPort }));
            }
            inputs[x.port] = edge; // shared by every instance fed by that one (a plan is read-only)
          }
          inputsByUpstream.set(upstream, inputs);
        }
        num = instances.length;
        // Unique in the plan: the node id and the count of its instances before this one.
        const instanceId = `${d.id}#${num - first}`;
        const node: PlannedNode = { instanceId, nodeId: d.id, typeName: d.type, registered: reg, params: r.params, seed: r.seed, inputs, ports: r.ports!, points: noPoints };
        if (d.resources) node.resources = d.resources;
        instances.push(node);
        ordered.set(instanceId, node);
        byIdentity.set(identity, num);
        counts.push(0);
      }
      mine[pi] = num;
      counts[num - first]++;
    }
    instanceCount[di] = counts.length;
    // Each instance's points, in arrays of their exact size.
    for (let j = 0; j < counts.length; j++) instances[first + j].points = counts[j] <= 4096 ? new Array<number>(counts[j]) : [];
    const filled = new Int32Array(counts.length);
    for (let pi = 0; pi < points.length; pi++) {
      const j = mine[pi] - first;
      const at = instances[mine[pi]].points;
      if (counts[j] <= 4096) at[filled[j]++] = points[pi].index;
      else at.push(points[pi].index);
    }
  }
  const pointNodes = new Array<Map<string, string>>(points.length);
  for (let pi = 0; pi < points.length; pi++) {
    const m = new Map<string, string>();
    for (const di of order) m.set(decls[di].id, instances[instanceOf[di][pi]].instanceId);
    pointNodes[pi] = m;
  }

  const file: PipelineFile = {
    path,
    baseDir,
    name: typeof raw.name === 'string' ? raw.name : 'pipeline',
    seed: pipelineSeed,
    cache: typeof raw.cache === 'string' ? raw.cache : undefined,
    jobs: typeof raw.jobs === 'number' ? raw.jobs : undefined,
    remote: isPlainObject(raw.remote) ? (raw.remote as Record<string, Json>) : undefined,
    executor: isPlainObject(raw.executor) ? (raw.executor as Record<string, Json>) : undefined,
    nodes: decls,
    sweep: axes,
    ...(replacedAxes.length > 0 ? { notes: replacedAxes } : {}),
  };
  return {
    file, points, nodes: ordered, pointNodes, registry, plugins,
    sweptPaths: [...Object.keys(axes.grid), ...Object.keys(axes.zip)],
  };
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

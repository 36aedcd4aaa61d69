// Planning a pipeline text: parse the YAML, validate everything (collecting every problem, located
// in the file or on the command line, before anything runs), expand the sweep, and merge node
// instances that are identical across grid points.
import { dirname } from 'node:path';
import { findCycle, topologicalOrder } from './dag.js';
import { ValidationError, type Diagnostic } from './errors.js';
import { hashJson } from './hash.js';
import { portsFor, type InputPort, type OutputPort, type Ports } from './node-type.js';
import {
  expandSweep, parseAxisFlags, parseOverrides, pointId, pointValue, schemaAt, setPath, splitList, unsetPath,
  type Assignment, type GridPoint, type SweepAxes,
} from './params.js';
import { NODE_ID_PATTERN, pipelineDocumentSchema } from './pipeline-schema.js';
import type { InputEdge, NodeDecl, PipelineFile, Plan, PlannedNode, PlanOptions } from './plan.js';
import type { LoadedPlugin } from './plan-cache.js';
import type { PluginError } from './registry.js';
import type { ResourceHints } from './resources.js';
import { SchemaValidator, type Locate } from './schema.js';
import { SourceDocument, type FieldPath } from './source.js';
import { suggest } from './suggest.js';
import type { Json } from './tensor.js';

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
  const raw = source.toJS() as Record<string, unknown> | null;
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
  const pointOverrides = overrides.filter((a) => !axisOverrides.has(a.path));
  let points: GridPoint[];
  try {
    points = expandSweep(axes, { grid: 'sweep.grid', zip: 'sweep.zip' });
    // Axes from --grid/--zip are located on the command line, not in the file's sweep section.
    const flagOf = new Map<string, string>();
    for (const kind of ['grid', 'zip'] as const) for (const f of options[kind] ?? []) flagOf.set(f.split('=')[0].trim(), `--${kind} ${f}`);
    if (flagOf.size > 0) {
      points = points.map((pt) => ({ ...pt, assignments: pt.assignments.map((a) => (flagOf.has(a.path) ? { ...a, origin: flagOf.get(a.path)! } : a)) }));
    }
    points = points.map((pt) => withOverrides(pt, pointOverrides, axisOverrides));
  } catch (e) {
    // Point at the flags when the axes came from the command line, else at the file's sweep section.
    const fromCli = (options.grid?.length ?? 0) + (options.zip?.length ?? 0) > 0;
    diags.push(
      fromCli
        ? { file: CLI, line: 0, column: 0, field: '--grid/--zip', message: (e as Error).message }
        : source.diagnostic(['sweep'], (e as Error).message, 'key'),
    );
    points = [withOverrides({ index: 0, id: 'default', assignments: [] }, pointOverrides, axisOverrides)];
  }

  const pipelineSeed = typeof raw.seed === 'number' ? raw.seed : 0;
  const edges = new Map(decls.map((d) => [d.id, Object.values(d.inputs).map((ref) => String(ref).split('.')[0])]));
  const cycle = findCycle(decls.map((d) => d.id), { upstream: edges });
  if (cycle) {
    diags.push(source.diagnostic(['nodes', cycle[0], 'inputs'], `cycle: ${cycle.join(' → ')}`));
  }

  // Per point: resolve params (validated, defaults filled) and ports.
  const resolved: { params: Map<string, Record<string, Json>>; seeds: Map<string, number>; ports: Map<string, Ports> }[] = [];
  // A problem found at some points only is reported once, with the points named.
  const found = new Map<string, { d: Diagnostic; points: string[] }>();
  let current = '';
  const pushOnce = (d: Diagnostic): void => {
    const id = `${d.file}:${d.line}:${d.column}:${d.field}:${d.message}`;
    const entry = found.get(id) ?? { d, points: [] };
    found.set(id, entry);
    if (!entry.points.includes(current)) entry.points.push(current);
  };
  for (const point of points) {
    current = point.id;
    const assignments = point.assignments;
    const params = new Map<string, Record<string, Json>>();
    const seeds = new Map<string, number>();
    const ports = new Map<string, Ports>();
    let seedForAll = pipelineSeed;
    for (const a of assignments) if (a.path === 'seed') seedForAll = Number(a.value);
    for (const d of decls) {
      let p = structuredClone(d.params);
      let seed = d.seed ?? seedForAll;
      const assigned = new Map<string, Assignment>();
      for (const a of assignments) {
        const [nodeId, ...rest] = a.path.split('.');
        if (nodeId !== d.id || rest.length === 0) continue;
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
      paramDiags.forEach(pushOnce);
      params.set(d.id, p);
      seeds.set(d.id, seed);
      if (paramDiags.length === 0) {
        try {
          ports.set(d.id, portsFor(reg.node, p, new Set(Object.keys(d.inputs))));
        } catch (e) {
          pushOnce(source.diagnostic(['nodes', d.id, 'params'], (e as Error).message));
        }
      }
    }
    for (const d of decls) checkInputs(d, ports, knownIds, source, pushOnce);
    resolved.push({ params, seeds, ports });
  }
  for (const { d, points: at } of found.values()) {
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

  const order = topologicalOrder(decls.map((d) => d.id), { upstream: edges })!;
  const nodes = new Map<string, PlannedNode>();
  const pointNodes: Map<string, string>[] = [];
  const instancesInOrder: { order: number; node: PlannedNode }[] = [];
  for (const [pi, point] of points.entries()) {
    const r = resolved[pi];
    const ids = new Map<string, string>();
    for (const nodeId of order) {
      const d = declById.get(nodeId)!;
      const reg = registry.get(d.type)!;
      const inputs: Record<string, InputEdge> = {};
      for (const [port, ref] of Object.entries(d.inputs)) {
        const [from, fromPort] = parseRef(ref, r.ports.get(ref.split('.')[0]));
        inputs[port] = { instanceId: ids.get(from)!, nodeId: from, port: fromPort! };
      }
      const params = r.params.get(nodeId)!;
      const seed = r.seeds.get(nodeId)!;
      const instanceId = hashJson({
        type: d.type, version: reg.node.version, params, seed,
        inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, `${v.instanceId}.${v.port}`])),
        nodeId,
      }).slice(0, 16);
      ids.set(nodeId, instanceId);
      const existing = nodes.get(instanceId);
      if (existing) existing.points.push(point.index);
      else {
        const node: PlannedNode = {
          instanceId, nodeId, typeName: d.type, registered: reg, params, seed, inputs,
          ports: r.ports.get(nodeId)!, points: [point.index], ...(d.resources ? { resources: d.resources } : {}),
        };
        nodes.set(instanceId, node);
        instancesInOrder.push({ order: order.indexOf(nodeId), node });
      }
    }
    pointNodes.push(ids);
  }
  // Order instances by their node's position, then by first point: a valid topological order.
  instancesInOrder.sort((a, b) => a.order - b.order || a.node.points[0] - b.node.points[0]);
  const ordered = new Map(instancesInOrder.map(({ node }) => [node.instanceId, node]));

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

/** A sweep point with the command line's `-p` assignments: axis replacements in place, the others first (by path). */
function withOverrides(pt: GridPoint, others: readonly Assignment[], axisOverrides: ReadonlyMap<string, Assignment>): GridPoint {
  const last = new Map(others.map((a) => [a.path, a]));
  const fixed = [...last.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const assignments = [...fixed, ...pt.assignments.map((a) => (axisOverrides.has(a.path) ? { ...a, origin: axisOverrides.get(a.path)!.origin } : a))];
  return { index: pt.index, id: pointId(assignments), assignments };
}

function isPlainObject(x: unknown): boolean {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function readSweep(sweep: unknown): SweepAxes {
  const s = (isPlainObject(sweep) ? sweep : {}) as { grid?: Record<string, Json[]>; zip?: Record<string, Json[]> };
  return { grid: isPlainObject(s.grid) ? { ...s.grid } : {}, zip: isPlainObject(s.zip) ? { ...s.zip } : {} };
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
  const problem = !knownIds.has(nodeId)
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

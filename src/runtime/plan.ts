// A plan: the pipeline's nodes for every grid point, validated, with params resolved and identical
// instances merged across points. `loadPlan` takes it from the plan cache when it can and otherwise
// plans (planner.ts: YAML, schemas, sweep), which is loaded only then.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { UsageError, ValidationError } from './errors.js';
import type { Ports } from './node-type.js';
import type { GridPoint, SweepAxes } from './params.js';
import { peekCacheField, type LoadedPlugin, type PlanCache, type PlanInputs } from './plan-cache.js';
import type { NodeRegistry, RegisteredNode } from './registry.js';
import type { ResourceHints } from './resources.js';
import type { SchemaValidator } from './schema.js';
import { closest } from './suggest.js';
import { decodeUtf8 } from './utf8.js';
import type { Json } from './tensor.js';

export interface NodeDecl {
  id: string;
  type: string;
  params: Record<string, Json>;
  inputs: Record<string, string>;
  seed?: number;
  /** The pipeline's resource hints for this node (over the node type's own). */
  resources?: ResourceHints;
}

export interface PipelineFile {
  path: string;
  baseDir: string;
  name: string;
  seed: number;
  cache?: string;
  jobs?: number;
  remote?: Record<string, Json>;
  /** The `executor:` header, as written (checked by the pipeline schema). */
  executor?: Record<string, Json>;
  nodes: NodeDecl[];
  sweep: SweepAxes;
  /** What planning has to tell the user (e.g. a `-p` that replaced a sweep axis), one line each. */
  notes?: string[];
}

export interface InputEdge {
  instanceId: string;
  nodeId: string;
  port: string;
}

export interface PlannedNode {
  /**
   * Structural identity within the plan (`<node>#<n>`): grid points share an instance when type,
   * params, seed and the instances their inputs come from are equal.
   */
  instanceId: string;
  nodeId: string;
  typeName: string;
  registered: RegisteredNode;
  params: Record<string, Json>;
  seed: number;
  inputs: Record<string, InputEdge>;
  ports: Ports;
  /** Indexes of the grid points that use this instance. */
  points: number[];
  /** The pipeline's resource hints for this node, if any (see `mergeResources`); not part of any key. */
  resources?: ResourceHints;
}

export interface Plan {
  file: PipelineFile;
  points: GridPoint[];
  /** Instances in a topological order. */
  nodes: Map<string, PlannedNode>;
  /** For each point, node id → instance id. */
  pointNodes: Map<string, string>[];
  /** Dotted paths that vary across points (the columns of `sieve results`). */
  sweptPaths: string[];
  registry: NodeRegistry;
  /** The plugin modules loaded into `registry` (the file's, then the command line's). */
  plugins: LoadedPlugin[];
}

export interface PlanOptions {
  registry: NodeRegistry;
  validator?: SchemaValidator;
  overrides?: readonly string[];
  grid?: readonly string[];
  zip?: readonly string[];
  /** Extra plugin modules, relative to the working directory. */
  plugins?: readonly string[];
  /** Ignore the file's sweep section (e.g. `run --no-sweep`). */
  noSweep?: boolean;
  /** Check the external files the nodes name (data, deps) as part of planning: for commands that run nodes. */
  checkFiles?: boolean;
  /** The plan cache to use, given the store the pipeline's `cache` field names (undefined: none). */
  planCache?: (declaredCache: string | undefined) => PlanCache;
}

/** ": did you mean x.yaml?" for a pipeline file name with a typo, among the YAML files beside it. */
function suggestSibling(path: string): string {
  let names: string[];
  try {
    names = readdirSync(dirname(path)).filter((n) => /\.ya?ml$/i.test(n));
  } catch {
    return '';
  }
  const c = closest(basename(path), names);
  return c ? ` (did you mean ${resolve(dirname(path), c)}?)` : '';
}

export async function loadPlan(pipelinePath: string, options: PlanOptions): Promise<Plan> {
  const path = resolve(pipelinePath);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path); // small, and read before anything else can run: see Store.getAction
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`no such pipeline file: ${pipelinePath}${suggestSibling(path)}`);
    throw new UsageError(`cannot read pipeline ${pipelinePath}: ${code === 'EISDIR' ? 'a directory, not a file' : code ?? (e as Error).message}`);
  }
  const decoded = decodeUtf8(path, bytes);
  if ('diagnostic' in decoded) throw new ValidationError([decoded.diagnostic]);
  const text = decoded.text;
  if (!options.planCache) return (await import('./planner.js')).planFromText(path, text, options);
  const inputs = planInputs(path, text, options);
  const memo = options.planCache(peekCacheField(text));
  const hit = await memo.restore(inputs, options.registry, dirname(path));
  // The node types' static checks look at files too, which may have changed since: a problem means
  // planning again, which reports it located.
  if (hit && passesStaticChecks(hit, Boolean(options.checkFiles))) return hit;
  const plan = await (await import('./planner.js')).planFromText(path, text, options);
  // Saved only where the next run will look for it.
  if (options.planCache(plan.file.cache).dir === memo.dir) await memo.save(inputs, plan);
  return plan;
}

function passesStaticChecks(plan: Plan, files: boolean): boolean {
  const checked = new Set<unknown>();
  for (const n of plan.nodes.values()) {
    const check = n.registered.node.check;
    if (!check || checked.has(n.params)) continue;
    checked.add(n.params);
    if (check(n.params, { baseDir: plan.file.baseDir, connected: new Set(Object.keys(n.inputs)), files }).length > 0) return false;
  }
  return true;
}

/** What planning `text` (the file at absolute `path`) with `options` reads, besides the node types. */
export function planInputs(path: string, text: string, options: Omit<PlanOptions, 'registry'>): PlanInputs {
  const cliPlugins = options.plugins ?? [];
  return {
    path, text,
    overrides: options.overrides ?? [], grid: options.grid ?? [], zip: options.zip ?? [], noSweep: Boolean(options.noSweep),
    // Command-line plugins are relative to the working directory; without them, it does not matter.
    cliPlugins, cwd: cliPlugins.length > 0 ? process.cwd() : '',
  };
}


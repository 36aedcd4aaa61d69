// The shapes planning produces and consumes, in a module of their own so that the planner, the plan
// memo and `loadPlan` depend on them rather than on each other.
import type { Json } from '../tensor.js';
import type { Ports } from '../types/node-type.js';
import type { NodeRegistry, RegisteredNode } from '../types/registry.js';
import type { ResourceHints } from '../types/resources.js';
import type { GridPoint, SweepAxes } from './params.js';
import type { SchemaValidator } from './schema.js';
import type { PipelineHeader } from './header.js';

export interface NodeDecl {
  id: string;
  type: string;
  params: Record<string, Json>;
  inputs: Record<string, string>;
  seed?: number;
  /** The pipeline's resource hints for this node (over the node type's own). */
  resources?: ResourceHints;
}

/** A planned pipeline file: its header (name, cache, jobs, remote, executor: see header.ts) and its nodes. */
export interface PipelineFile extends PipelineHeader {
  path: string;
  baseDir: string;
  seed: number;
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
  /** The plan memo to use, given the store the pipeline's `cache` field names (undefined: none). */
  planCache?: (declaredCache: string | undefined) => PlanMemo;
}

/** Everything planning reads besides the node types (and Sieve's own code). */
export interface PlanInputs {
  path: string;
  text: string;
  overrides: readonly string[];
  grid: readonly string[];
  zip: readonly string[];
  noSweep: boolean;
  /** Plugin modules from the command line, and the directory they are relative to. */
  cliPlugins: readonly string[];
  cwd: string;
}

/** A plugin module as planning loaded it: its specifier and the directory it is relative to. */
export interface LoadedPlugin {
  specifier: string;
  baseDir: string;
}

/** A memo of planning (plan-cache.ts), as `loadPlan` uses it. */
export interface PlanMemo {
  readonly dir: string;
  restore(inputs: PlanInputs, registry: NodeRegistry, baseDir: string): Promise<Plan | undefined>;
  save(inputs: PlanInputs, plan: Plan): Promise<void>;
}

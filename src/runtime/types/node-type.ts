// The contract between the runtime and a node type. A node type declares its ports, a JSON Schema
// for its params and an implementation version; the runtime does everything else (keys, caching,
// scheduling, reporting). Bump `version` whenever the outputs for the same inputs would change.
import type { DType, Json, Tensor } from '../tensor.js';
import type { ResourceHints } from './resources.js';

export interface TensorPort {
  kind: 'tensor';
  /** Accepted dtypes; omitted means any. */
  dtype?: DType | readonly DType[];
  /** Number of dimensions; omitted means any. */
  rank?: number;
  description?: string;
  optional?: boolean;
}
export interface JsonPort {
  kind: 'json';
  description?: string;
  optional?: boolean;
}
/** Opaque bytes (a file a command produced, say). */
export interface FilePort {
  kind: 'file';
  description?: string;
  optional?: boolean;
}
/** Accepts any artifact kind; only for inputs (a `command` node passes whatever it gets). */
export interface AnyPort {
  kind: 'any';
  description?: string;
  optional?: boolean;
}
export type OutputPort = TensorPort | JsonPort | FilePort;
export type InputPort = OutputPort | AnyPort;

export type PortValue = Tensor | Json | Uint8Array;

export interface Ports {
  inputs: Record<string, InputPort>;
  outputs: Record<string, OutputPort>;
}

/** A file read from outside the cache (a dataset, a model, a script) that the key must cover. */
export interface ExternalDep {
  /** What it is, for the lockfile and `status` (e.g. "model:vision", "deps[0]"). */
  name: string;
  path: string;
  sha256: string;
  size: number;
}

export interface NodeContext<P> {
  readonly nodeId: string;
  readonly params: P;
  /** The seed the node receives (node-level `seed` or the pipeline's). */
  readonly seed: number;
  /** Input values by port name; optional ports that are unconnected are absent. */
  readonly inputs: Readonly<Record<string, PortValue>>;
  /** Directory of the pipeline file: relative paths in params resolve against it. */
  readonly baseDir: string;
  /** The cache directory (for downloads and other node-owned caches). */
  readonly cacheDir: string;
  /** A private empty directory, deleted after the node finishes. */
  readonly scratchDir: string;
  readonly signal: AbortSignal;
  /** Reports progress; `total` may be undefined when unknown. */
  progress(done: number, total?: number, unit?: string): void;
  /** A line for the run log (shown with --verbose and in the run record). */
  log(message: string): void;
  /** Facts worth keeping in the lockfile (backend used, model versions...). */
  note(key: string, value: Json): void;
  /** What the node type's `keyEnvironment` resolved for this execution (part of its key); absent when it has none. */
  readonly environment?: Readonly<Record<string, Json>>;
}

export interface FingerprintContext<P> {
  readonly nodeId: string;
  readonly params: P;
  readonly baseDir: string;
  readonly cacheDir: string;
  /** Content hash of a local file, memoised by path, size and mtime. */
  hashFile(path: string): Promise<{ sha256: string; size: number }>;
}

/** What a node type's static check may look at besides its params. */
export interface StaticCheckContext {
  /** Directory of the pipeline file: relative paths in params resolve against it. */
  readonly baseDir: string;
  /** The input ports the pipeline connects. */
  readonly connected: ReadonlySet<string>;
  /**
   * Whether to check the external files the params name (true when the command will run nodes;
   * `dag`, `status` and `show` still work on a pipeline whose data is not here yet).
   */
  readonly files: boolean;
}

/** A problem a static check found: the param path it is about (relative to params) and what is wrong. */
export interface ParamProblem {
  path: readonly (string | number)[];
  message: string;
}

export interface NodeType<P = Record<string, unknown>> {
  /** The `type:` users write in YAML. */
  readonly type: string;
  /** Implementation version; part of every key. */
  readonly version: string;
  readonly description: string;
  /** JSON Schema (draft 2020-12 subset that ajv understands) for `params`. Defaults are applied. */
  readonly paramsSchema: Record<string, unknown>;
  /**
   * Ports, fixed or derived from the (validated) params and the set of input ports the pipeline
   * connects (so an optional input can switch an output on).
   */
  readonly ports: Ports | ((params: P, connected: ReadonlySet<string>) => Ports);
  /**
   * What one instance needs (CPU cores, memory, GPUs, wall time); a pipeline can override them per
   * node. Declaring them marks the node type as compute work: the local executor runs it in a worker
   * thread (so the progress view stays live and `--jobs` gives real parallelism; such node types must
   * be the default export of the module named in the registry), a cluster executor requests them.
   * Node types without them (I/O-bound, or spawning processes) run on the main thread.
   */
  readonly resources?: ResourceHints;
  /**
   * Params that change how a node runs but never what it outputs (threads, batch size, an execution
   * provider whose results are equal): left out of its key, so changing one is a cache hit. Top-level
   * param names, or a function of the params when that depends on them (a file's location once its
   * content is pinned by a checksum).
   */
  readonly executionOnly?: readonly string[] | ((params: P) => readonly string[]);
  /** Output ports whose JSON values are metrics collected by `sieve results`. */
  readonly metrics?: readonly string[];
  /**
   * What can be checked when planning, without data or inputs: combinations of params the schema
   * cannot express, and the external files the params name (that they exist, as a file or a
   * directory). Each problem is reported at its param, exit 2, before anything runs. Cheap and
   * synchronous: it runs on every planning (also when the plan is memoised).
   */
  check?(params: P, ctx: StaticCheckContext): ParamProblem[];
  /** Files outside the cache the outputs depend on; their hashes join the key. */
  fingerprint?(ctx: FingerprintContext<P>): Promise<ExternalDep[]>;
  /**
   * Facts about this machine that the outputs depend on beyond params, seed and inputs — which
   * numeric backend `auto` resolves to here and its version, say. Resolved before the key is
   * computed (so it must be cheap and load nothing heavy), they join the key and the lockfile,
   * `status` names the ones that changed, and `run` receives them as `ctx.environment` so that what
   * runs is what the key says. Flat string/number values read best in `status`.
   */
  keyEnvironment?(params: P): Record<string, Json> | Promise<Record<string, Json>>;
  run(ctx: NodeContext<P>): Promise<Record<string, PortValue>>;
}

export function defineNode<P>(node: NodeType<P>): NodeType<P> {
  return node;
}

/** Whether the local executor runs this node type in a worker thread (see `resources`). */
export function runsInWorker(node: NodeType<never> | NodeType<Record<string, unknown>>): boolean {
  return node.resources !== undefined;
}

/** The params that make a node's key: all but its type's execution-only ones. */
export function keyParams<P>(node: Pick<NodeType<P>, 'executionOnly'>, params: Record<string, Json>): Record<string, Json> {
  const skip = typeof node.executionOnly === 'function' ? node.executionOnly(params as P) : node.executionOnly;
  if (!skip?.length) return params;
  return Object.fromEntries(Object.entries(params).filter(([k]) => !skip.includes(k)));
}

export function portsFor<P>(node: NodeType<P>, params: P, connected: ReadonlySet<string>): Ports {
  return typeof node.ports === 'function' ? node.ports(params, connected) : node.ports;
}

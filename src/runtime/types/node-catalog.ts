// What a node type offers, for `sieve types` and the editor schemas: its input and output ports and
// its params. Ports may depend on the params (a method that needs another input) and on which inputs
// are connected (an output that appears with an optional input), so they are collected over every
// value of each enumerated param and with every input connected; a port that only some values have
// says which ("when method: a, b").
import type { InputPort, NodeType, Ports } from './node-type.js';
import { portsFor } from './node-type.js';
import type { ResourceHints } from './resources.js';

export interface PortInfo {
  name: string;
  kind: InputPort['kind'];
  dtype?: string;
  rank?: number;
  /** Optional with the default params (or, for a port the defaults lack, wherever it exists). */
  optional: boolean;
  /** Params values that make it required although it is optional by default, e.g. "head: text-init". */
  requiredWhen?: string;
  /** Params values that make it optional although it is required by default. */
  optionalWhen?: string;
  /** Params values where the port exists, when not all of them. */
  when?: string;
  description?: string;
}

export interface ParamInfo {
  name: string;
  type: string;
  default?: unknown;
  values?: unknown[];
  required: boolean;
  description?: string;
}

export interface NodeTypeInfo {
  type: string;
  version: string;
  description: string;
  /**
   * What one instance asks a cluster for (see resources.ts). A node type that declares hints is a
   * compute node type: locally, it runs in a worker thread (runsInWorker).
   */
  resources?: ResourceHints;
  /** False when the ports could not be derived without params (e.g. outputs the user declares). */
  portsKnown: boolean;
  inputs: PortInfo[];
  outputs: PortInfo[];
  params: ParamInfo[];
  executionOnly: string[];
}

type Schema = Record<string, unknown>;

function paramProperties(node: NodeType<never>): Record<string, Schema> {
  return (node.paramsSchema.properties ?? {}) as Record<string, Schema>;
}

function schemaType(s: Schema): string {
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (Array.isArray(s.type)) return s.type.join(' | ');
  if (typeof s.type === 'string') return s.type === 'array' && s.items && typeof (s.items as Schema).type === 'string' ? `${(s.items as Schema).type}[]` : s.type;
  if (Array.isArray(s.oneOf) || Array.isArray(s.anyOf)) return ((s.oneOf ?? s.anyOf) as Schema[]).map(schemaType).join(' | ');
  return 'any';
}

function params(node: NodeType<never>): ParamInfo[] {
  const required = new Set((node.paramsSchema.required ?? []) as string[]);
  return Object.entries(paramProperties(node)).map(([name, s]) => ({
    name, type: schemaType(s), default: s.default, values: Array.isArray(s.enum) ? s.enum : undefined,
    required: required.has(name), description: typeof s.description === 'string' ? s.description : undefined,
  }));
}

interface Variant {
  /** The enumerated param this variant sets (absent: the defaults). */
  param?: string;
  value?: unknown;
  ports: Ports;
}

/** Ports for the defaults and for each value of each enumerated param, with every input connected. */
function variants(node: NodeType<never>): Variant[] {
  const props = paramProperties(node);
  const defaults: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(props)) if (s.default !== undefined) defaults[k] = s.default;
  const settings: { param?: string; value?: unknown; params: Record<string, unknown> }[] = [{ params: defaults }];
  for (const [k, s] of Object.entries(props)) {
    if (Array.isArray(s.enum)) for (const v of s.enum) settings.push({ param: k, value: v, params: { ...defaults, [k]: v } });
  }
  const out: Variant[] = [];
  for (const { param, value, params: p } of settings) {
    try {
      const first = portsFor(node as NodeType<Record<string, unknown>>, p, new Set());
      out.push({ param, value, ports: portsFor(node as NodeType<Record<string, unknown>>, p, new Set(Object.keys(first.inputs))) });
    } catch {
      // These params alone are not enough to derive the ports (a required param without a default).
    }
  }
  return out;
}

/** "k: a, b" for each enumerated param only some of whose values satisfy `test`. */
function conditions(all: Variant[], test: (v: Variant) => boolean, among: (v: Variant) => boolean): string | undefined {
  const out: string[] = [];
  for (const param of new Set(all.map((v) => v.param).filter((k): k is string => k !== undefined))) {
    const values = all.filter((v) => v.param === param && among(v));
    const yes = values.filter(test);
    if (yes.length > 0 && yes.length < values.length) out.push(`${param}: ${yes.map((v) => String(v.value)).join(', ')}`);
  }
  return out.length ? out.join('; ') : undefined;
}

function mergePorts(all: Variant[], side: 'inputs' | 'outputs'): PortInfo[] {
  const names = new Set(all.flatMap((v) => Object.keys(v.ports[side])));
  return [...names].map((name) => {
    const has = (v: Variant): boolean => name in v.ports[side];
    const isRequired = (v: Variant): boolean => has(v) && !v.ports[side][name].optional;
    const p = all.find(has)!.ports[side][name] as InputPort & { dtype?: string | readonly string[]; rank?: number };
    const byDefault = all.find((v) => v.param === undefined && has(v));
    const optional = byDefault ? !isRequired(byDefault) : !all.some(isRequired);
    const switches = conditions(all, optional ? isRequired : (v) => has(v) && !isRequired(v), has);
    return {
      name, kind: p.kind,
      dtype: Array.isArray(p.dtype) ? p.dtype.join('|') : (p.dtype as string | undefined),
      rank: p.rank,
      optional,
      ...(switches ? (optional ? { requiredWhen: switches } : { optionalWhen: switches }) : {}),
      when: all.every(has) ? undefined : conditions(all, has, () => true) ?? 'depending on params',
      description: p.description,
    };
  });
}

export function describeNodeType(node: NodeType<never>): NodeTypeInfo {
  const all = variants(node);
  return {
    type: node.type, version: node.version, description: node.description,
    ...(node.resources ? { resources: { ...node.resources } } : {}),
    portsKnown: all.length > 0,
    inputs: mergePorts(all, 'inputs'),
    outputs: mergePorts(all, 'outputs'),
    params: params(node),
    executionOnly: typeof node.executionOnly === 'function' ? [] : [...(node.executionOnly ?? [])],
  };
}

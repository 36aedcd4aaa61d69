// The plan cache: a memo of planning (YAML parsing, schema validation with defaults, sweep
// expansion, instance merging), like Gradle's configuration cache. A plan is a pure function of the
// pipeline text, the command line's overrides and plugins, Sieve's build, and the node types it
// uses; the memo's key covers the first three, and a hit is only taken after checking the fourth
// (each type's version, params schema and ports). Only valid plans are memoised, so every error is
// still found and located by a full planning. It lives in the store (state/plans/), and nothing is
// lost by deleting it: the next run plans again.
import { readFileSync } from 'node:fs';
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, hashJson, sha256 } from '../keys/hash.js';
import { writeFileAtomic } from '../store/atomic-file.js';
import type { Json } from '../tensor.js';
import { portsFor } from '../types/node-type.js';
import type { NodeRegistry } from '../types/registry.js';
import type { GridPoint } from './params.js';
import type { LoadedPlugin, PipelineFile, Plan, PlanInputs, PlanMemo, PlannedNode } from './plan-types.js';

/** Bump when planning itself changes what it produces for the same inputs. */
const PLAN_CACHE_FORMAT = 1;
/** The memo keeps at most this many plans; the oldest go first. */
const MAX_ENTRIES = 200;

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
  points: GridPoint[];
  instances: Omit<PlannedNode, 'registered'>[];
  pointNodes: [string, string][][];
  sweptPaths: string[];
  /** sha256 of the entry's JSON text without this field: an entry edited on disk is planned again. */
  digest?: string;
}

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
      entry = JSON.parse(readFileSync(this.entryPath(key), 'utf8')) as Entry; // small: see Store.getAction
    } catch {
      return undefined;
    }
    if (entry === null || typeof entry !== 'object' || entry.format !== PLAN_CACHE_FORMAT || entry.key !== key) return undefined;
    // The digest is over the JSON text of the rest, as written (JSON.parse keeps key order and
    // numbers, so writing it again gives the same text); canonical JSON would cost seconds on a big grid.
    const { digest, ...content } = entry;
    if (digest !== sha256(JSON.stringify(content))) return undefined;
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
    const nodes = new Map<string, PlannedNode>();
    for (const inst of entry.instances) {
      const registered = registry.get(inst.typeName)!;
      let ports;
      try {
        ports = portsFor(registered.node, inst.params, new Set(Object.keys(inst.inputs)));
      } catch {
        return undefined;
      }
      // Ports are code, not data: a node type whose ports changed needs its connections checked again.
      if (canonicalJson(ports as unknown as Json) !== canonicalJson(inst.ports as unknown as Json)) return undefined;
      nodes.set(inst.instanceId, { ...inst, registered, ports });
    }
    return {
      file: { ...entry.file, path: inputs.path, baseDir },
      points: entry.points,
      nodes,
      pointNodes: entry.pointNodes.map((pairs) => new Map(pairs)),
      sweptPaths: entry.sweptPaths,
      registry,
      plugins: entry.plugins,
    };
  }

  /** Memoises a plan that planning produced from `inputs`; best effort (a failure only costs a re-plan). */
  async save(inputs: PlanInputs, plan: Plan): Promise<void> {
    const key = PlanCache.key(inputs);
    const types: Entry['types'] = {};
    for (const n of plan.nodes.values()) {
      types[n.typeName] = { version: n.registered.node.version, schema: schemaHash(n.registered.node.paramsSchema) };
    }
    const { path: _path, baseDir: _baseDir, ...file } = plan.file;
    const entry: Entry = {
      format: PLAN_CACHE_FORMAT, key, plugins: plan.plugins, types, file,
      points: plan.points,
      instances: [...plan.nodes.values()].map(({ registered: _registered, ...rest }) => rest),
      pointNodes: plan.pointNodes.map((m) => [...m]),
      sweptPaths: plan.sweptPaths,
    };
    try {
      entry.digest = sha256(JSON.stringify(entry));
      if (this.mustExist !== undefined && !(await exists(this.mustExist))) return;
      await mkdir(this.dir, { recursive: true });
      await writeFileAtomic(this.entryPath(key), JSON.stringify(entry));
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

function schemaHash(schema: Record<string, unknown>): string {
  return hashJson(schema as Record<string, Json>);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

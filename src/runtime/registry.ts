// Node types by name. Each entry remembers the module it came from so that a worker thread can
// import the same implementation by URL.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { SieveError } from './errors.js';
import type { NodeType } from './node-type.js';

export interface RegisteredNode {
  node: NodeType<Record<string, unknown>>;
  /** URL of a module whose default export (or one item of it) is this node type. */
  moduleUrl?: string;
}

/** A plugin module that cannot be loaded or exports no node types: a usage problem (exit 2). */
export class PluginError extends SieveError {
  override name = 'PluginError';
  override readonly exitCode = 2;
}

export class NodeRegistry {
  private readonly entries = new Map<string, RegisteredNode>();

  register(node: NodeType<never> | NodeType<Record<string, unknown>>, moduleUrl?: string): this {
    const n = node as unknown as NodeType<Record<string, unknown>>;
    if (this.entries.has(n.type)) throw new PluginError(`node type "${n.type}" is registered twice`);
    this.entries.set(n.type, { node: n, moduleUrl });
    return this;
  }

  get(type: string): RegisteredNode | undefined {
    return this.entries.get(type);
  }

  types(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** Imports a plugin module (path relative to `baseDir`) and registers what it exports by default. */
  async loadPlugin(specifier: string, baseDir: string): Promise<void> {
    const url = /^[a-z]+:/i.test(specifier) ? specifier : pathToFileURL(resolve(baseDir, specifier)).href;
    let mod: { default?: unknown };
    try {
      mod = (await import(url)) as { default?: unknown };
    } catch (e) {
      throw new PluginError(`cannot load plugin ${specifier}: ${(e as Error).message}`);
    }
    const exported = Array.isArray(mod.default) ? mod.default : [mod.default];
    for (const item of exported) {
      if (!isNodeType(item)) throw new PluginError(`plugin ${specifier}: default export must be a node type or an array of them`);
      if (this.entries.get(item.type)?.moduleUrl === url) continue;
      this.register(item, url);
    }
  }
}

function isNodeType(x: unknown): x is NodeType<Record<string, unknown>> {
  return (
    typeof x === 'object' && x !== null &&
    typeof (x as NodeType).type === 'string' && typeof (x as NodeType).version === 'string' &&
    typeof (x as NodeType).run === 'function'
  );
}

/** URL of a sibling module, whether we run from TypeScript sources or compiled JavaScript. */
export function siblingModule(fromUrl: string, baseName: string): string {
  const ext = fromUrl.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${baseName}${ext}`, fromUrl).href;
}

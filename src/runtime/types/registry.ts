// Node types by name. Each entry remembers the module it came from so that a worker thread can
// import the same implementation by URL. A type can be declared before its module is imported
// (`defer`): a pipeline then loads only the node types it uses.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isAbsolute, join, resolve } from 'node:path';
import { SieveError } from '../errors.js';
import { importModule } from './import-module.js';
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

/** Imports a module whose default export is a node type. */
export type NodeModuleLoader = () => Promise<{ default: NodeType<never> }>;

export class NodeRegistry {
  private readonly entries = new Map<string, RegisteredNode>();
  private readonly deferred = new Map<string, { moduleUrl: string; load: NodeModuleLoader }>();

  register(node: NodeType<never> | NodeType<Record<string, unknown>>, moduleUrl?: string): this {
    const n = node as unknown as NodeType<Record<string, unknown>>;
    if (this.entries.has(n.type) || this.deferred.has(n.type)) throw new PluginError(`node type "${n.type}" is registered twice`);
    this.entries.set(n.type, { node: n, moduleUrl });
    return this;
  }

  /** Declares node type `type`, implemented by the module at `moduleUrl`, imported by `load` when first needed. */
  defer(type: string, moduleUrl: string, load: NodeModuleLoader): this {
    if (this.entries.has(type) || this.deferred.has(type)) throw new PluginError(`node type "${type}" is registered twice`);
    this.deferred.set(type, { moduleUrl, load });
    return this;
  }

  /** Imports the deferred node types among `types`; names that are not registered are left to the caller to report. */
  async load(types: Iterable<string>): Promise<void> {
    const wanted = [...new Set(types)].flatMap((type) => {
      const d = this.deferred.get(type);
      return d ? [{ type, ...d }] : [];
    });
    const loaded = await Promise.all(wanted.map(async (d) => ({ ...d, mod: await d.load() })));
    for (const { type, moduleUrl, mod } of loaded) {
      const node = mod.default as unknown as NodeType<Record<string, unknown>>;
      if (node.type !== type) throw new Error(`module ${moduleUrl} implements node type "${node.type}", not "${type}"`);
      this.deferred.delete(type);
      this.entries.set(type, { node, moduleUrl });
    }
  }

  /** Imports every deferred node type (for tools that list them all: schemas, help). */
  loadAll(): Promise<void> {
    return this.load(this.deferred.keys());
  }

  /** A loaded node type (see `load` for deferred ones). */
  get(type: string): RegisteredNode | undefined {
    return this.entries.get(type);
  }

  /** Every registered type name, loaded or not. */
  types(): string[] {
    return [...this.entries.keys(), ...this.deferred.keys()].sort();
  }

  /**
   * Imports a plugin module and registers what it exports by default. A plugin is a file (relative
   * to `baseDir`, or absolute) or the name of a package installed where `baseDir` can resolve it;
   * URLs (data:, http:, file: ...) are refused, so a pipeline's header cannot carry code itself.
   */
  async loadPlugin(specifier: string, baseDir: string): Promise<void> {
    const url = pluginUrl(specifier, baseDir);
    let mod: { default?: unknown };
    try {
      mod = await importModule(url);
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

const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*(\/[A-Za-z0-9._~-]+)*$/;

/** The file URL of a plugin: a file path, or an installed package resolved from `baseDir`. */
export function pluginUrl(specifier: string, baseDir: string): string {
  if (typeof specifier !== 'string' || specifier.length === 0) throw new PluginError('a plugin must be a file path or a package name');
  // Two letters or more before a colon: a URL scheme (a Windows drive letter is one).
  if (/^[A-Za-z][A-Za-z0-9+.-]+:/.test(specifier)) {
    throw new PluginError(`plugin ${JSON.stringify(specifier.length > 60 ? `${specifier.slice(0, 57)}...` : specifier)}: URLs are not allowed; a plugin is a file relative to the pipeline or an installed package name`);
  }
  const path = resolve(baseDir, specifier);
  const relativeOrAbsolute = isAbsolute(specifier) || specifier.startsWith('./') || specifier.startsWith('../');
  if (relativeOrAbsolute || existsSync(path) || !PACKAGE_NAME.test(specifier)) return pathToFileURL(path).href;
  try {
    return pathToFileURL(createRequire(join(baseDir, 'noop.js')).resolve(specifier)).href;
  } catch {
    throw new PluginError(`cannot load plugin ${specifier}: no file ${path} and no installed package of that name`);
  }
}

function isNodeType(x: unknown): x is NodeType<Record<string, unknown>> {
  return (
    typeof x === 'object' && x !== null &&
    typeof (x as NodeType).type === 'string' && typeof (x as NodeType).version === 'string' &&
    typeof (x as NodeType).run === 'function'
  );
}

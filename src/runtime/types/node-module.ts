// Importing a node type by the URL of its module, as a worker thread or a task process on another
// machine does: the module's default export is the node type or a list of them.
import type { NodeType } from './node-type.js';

const loaded = new Map<string, NodeType<Record<string, unknown>>>();

export async function importNodeType(moduleUrl: string, typeName: string): Promise<NodeType<Record<string, unknown>>> {
  const id = `${moduleUrl}#${typeName}`;
  const hit = loaded.get(id);
  if (hit) return hit;
  const mod = (await import(moduleUrl)) as { default?: unknown };
  const exported = (Array.isArray(mod.default) ? mod.default : [mod.default]) as NodeType<Record<string, unknown>>[];
  const node = exported.find((n) => n?.type === typeName);
  if (!node) throw new Error(`module ${moduleUrl} exports no node type "${typeName}"`);
  loaded.set(id, node);
  return node;
}

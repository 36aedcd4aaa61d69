// The built-in node types. Each module is imported for its declaration (schema, ports, version);
// heavy dependencies (tfjs, onnxruntime, sharp) are imported lazily inside `run`.
import { NodeRegistry, siblingModule } from '../runtime/registry.js';
import type { NodeType } from '../runtime/node-type.js';

export const BUILTIN_MODULES = ['command', 'load', 'noise-inject', 'embed', 'select', 'relabel', 'train', 'evaluate'] as const;

export async function builtinRegistry(): Promise<NodeRegistry> {
  const registry = new NodeRegistry();
  const mods = await Promise.all(
    BUILTIN_MODULES.map(async (name) => {
      const url = siblingModule(import.meta.url, name);
      return { url, mod: (await import(url)) as { default: NodeType<Record<string, unknown>> } };
    }),
  );
  for (const { url, mod } of mods) registry.register(mod.default, url);
  return registry;
}

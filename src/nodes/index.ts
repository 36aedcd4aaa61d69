// The built-in node types. Each is declared by name and imported only when a pipeline uses it
// (with the bundled CLI, each is a chunk of its own); the heavy dependencies of a node (tfjs,
// onnxruntime, sharp) are imported lazily inside its `run`. Each is registered with its module's
// URL so that a worker thread can import the same implementation.
import { ownModuleUrl } from '../module-paths.js';
import { NodeRegistry, type NodeModuleLoader } from '../runtime/types/registry.js';

const BUILTINS: Record<string, NodeModuleLoader> = {
  command: () => import('./command.js'),
  load: () => import('./load.js'),
  'noise-inject': () => import('./noise-inject.js'),
  embed: () => import('./embed.js'),
  select: () => import('./select.js'),
  relabel: () => import('./relabel.js'),
  train: () => import('./train.js'),
  'prompt-tune': () => import('./prompt-tune.js'),
  sample: () => import('./sample.js'),
  ensemble: () => import('./ensemble.js'),
  evaluate: () => import('./evaluate.js'),
};

/** A registry of the built-in node types (each module file is named after its type). */
export function builtinRegistry(): NodeRegistry {
  const registry = new NodeRegistry();
  for (const [type, load] of Object.entries(BUILTINS)) registry.defer(type, ownModuleUrl(`nodes/${type}`), load);
  return registry;
}

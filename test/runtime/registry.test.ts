// The node registry: built-in node types are declared by name and imported only when a pipeline uses
// them; a module that implements another type than the one it is declared for is refused.
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/nodes/index.js';
import type { NodeType } from '../../src/runtime/types/node-type.js';
import { NodeRegistry, PluginError } from '../../src/runtime/types/registry.js';

const node = (type: string): NodeType => ({
  type, version: '1', description: type, paramsSchema: { type: 'object' }, ports: { inputs: {}, outputs: {} }, run: async () => ({}),
});

describe('NodeRegistry', () => {
  it('lists deferred types, imports each once when asked, and skips names it does not know', async () => {
    let imports = 0;
    const r = new NodeRegistry().register(node('ready'));
    r.defer('later', 'file:///later.js', async () => {
      imports++;
      return { default: node('later') as NodeType<never> };
    });
    expect(r.types()).toEqual(['later', 'ready']);
    expect(r.get('later')).toBeUndefined();
    await r.load(['later', 'later', 'ready', 'unknown']);
    await r.load(['later']);
    expect(imports).toBe(1);
    expect(r.get('later')).toMatchObject({ node: { type: 'later' }, moduleUrl: 'file:///later.js' });
  });

  it('refuses a module that implements another type, and a type registered twice', async () => {
    const r = new NodeRegistry().defer('a', 'file:///a.js', async () => ({ default: node('b') as NodeType<never> }));
    await expect(r.load(['a'])).rejects.toThrow(/implements node type "b", not "a"/);
    expect(() => r.register(node('a'))).toThrow(PluginError);
    expect(() => new NodeRegistry().register(node('x')).defer('x', 'file:///x.js', async () => ({ default: node('x') as NodeType<never> }))).toThrow(PluginError);
  });

  it('the built-in registry imports a node type only when it is loaded', async () => {
    const r = builtinRegistry();
    expect(r.types()).toEqual(['command', 'embed', 'ensemble', 'evaluate', 'load', 'noise-inject', 'prompt-tune', 'relabel', 'sample', 'select', 'train']);
    expect(r.get('select')).toBeUndefined();
    await r.load(['select']);
    expect(r.get('select')!.node.type).toBe('select');
    expect(r.get('select')!.moduleUrl).toMatch(/\/src\/nodes\/select\.ts$/);
    expect(r.get('train')).toBeUndefined();
    await r.loadAll();
    for (const t of r.types()) expect(r.get(t)?.node.type).toBe(t);
  });
});

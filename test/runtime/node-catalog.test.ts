// What `sieve types` and the editor schemas say about node types: ports over every params value and
// with every input connected, marked optional / required-with / present-with.
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/nodes/index.js';
import { describeNodeType } from '../../src/runtime/types/node-catalog.js';
import { runsInWorker, type NodeType } from '../../src/runtime/types/node-type.js';
import { buildSchemas } from '../../src/runtime/types/schema-files.js';

async function info(type: string) {
  const registry = builtinRegistry();
  await registry.load([type]);
  return describeNodeType(registry.get(type)!.node as unknown as NodeType<never>);
}

describe('describeNodeType', () => {
  it('lists fixed ports with kind, dtype, rank and optional, and the params with defaults', async () => {
    const select = await info('select');
    expect(select.inputs.find((p) => p.name === 'features')).toMatchObject({ kind: 'tensor', dtype: 'float32', rank: 2, optional: false });
    expect(select.inputs.find((p) => p.name === 'text_features')).toMatchObject({ rank: 3, optional: true });
    expect(select.outputs.map((p) => p.name)).toEqual(['mask', 'scores', 'submasks', 'probs', 'report']);
    expect(select.params.find((p) => p.name === 'method')).toMatchObject({ default: 'clipcleaner', values: expect.arrayContaining(['clipcleaner']) });
  });

  it('says which params values add a port or make it required', async () => {
    const train = await info('train');
    expect(train.inputs.find((p) => p.name === 'text_features')).toMatchObject({ optional: true, requiredWhen: 'head: text-init' });
    const relabel = await info('relabel');
    expect(relabel.outputs.find((p) => p.name === 'ema')).toMatchObject({ when: 'method: ensemble-labels' });
    expect(relabel.inputs.find((p) => p.name === 'probs')).toMatchObject({ optional: false, optionalWhen: 'source: logreg' });
    expect(relabel.outputs.find((p) => p.name === 'labels')!.when).toBeUndefined();
  });

  it('execution-only params are declared params of their type (embed: threads, batch_size, provider)', async () => {
    const registry = builtinRegistry();
    await registry.loadAll();
    for (const type of registry.types()) {
      const node = registry.get(type)!.node;
      const props = Object.keys((node.paramsSchema.properties ?? {}) as object);
      const declared = typeof node.executionOnly === 'function' ? node.executionOnly({}) : node.executionOnly ?? [];
      for (const p of declared) expect(props, `${type}.${p}`).toContain(p);
    }
    expect((await info('embed')).executionOnly).toEqual(['threads', 'batch_size', 'provider']);
  });

  it('resource hints are the only execution declaration: the catalog shows them, and they alone put a type in a worker thread', async () => {
    const registry = builtinRegistry();
    await registry.loadAll();
    const hinted: string[] = [];
    for (const type of registry.types()) {
      const node = registry.get(type)!.node as unknown as NodeType<never>;
      const described = describeNodeType(node);
      expect(described).not.toHaveProperty('execution');
      expect(Boolean(described.resources), type).toBe(runsInWorker(node));
      if (described.resources) hinted.push(type);
    }
    expect(hinted).toEqual(expect.arrayContaining(['embed', 'train']));
    expect(hinted).not.toContain('command'); // I/O-bound: on the main thread
  });

  it('ports that only the params declare (command) are reported as unknown', async () => {
    const command = await info('command');
    expect(command.portsKnown).toBe(false);
    expect(command.params.filter((p) => p.required).map((p) => p.name)).toEqual(['run', 'outputs']);
  });

  it('the pipeline schema names each type\'s input ports for editors', async () => {
    const files = await buildSchemas(builtinRegistry());
    const branches = (files['pipeline.schema.json'] as { $defs: { node: { allOf: { if: { properties: { type: { const: string } } }; then: { properties: Record<string, { properties?: object }> } }[] } } }).$defs.node.allOf;
    const select = branches.find((b) => b.if.properties.type.const === 'select')!;
    expect(Object.keys(select.then.properties.inputs.properties!)).toEqual(['features', 'labels', 'text_features', 'true_labels', 'classes']);
  });
});

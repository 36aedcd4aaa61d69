// The plan cache: a memoised plan equals a fresh one; anything planning reads that changed (the
// text, the command line, a node type's version, schema or ports) is a miss; invalid pipelines are
// never memoised; a bad memo is ignored; the memo stays bounded and never creates a cache by itself.
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/nodes/index.js';
import { sha256 } from '../../src/runtime/keys/hash.js';
import { pack, unpack } from '../../src/runtime/planning/pack.js';
import { MAX_MEMO_INSTANCES } from '../../src/runtime/planning/plan-cache.js';
import { ValidationError } from '../../src/runtime/errors.js';
import { peekCacheField } from '../../src/runtime/planning/header.js';
import { PlanCache } from '../../src/runtime/planning/plan-cache.js';
import type { Plan, PlanOptions } from '../../src/runtime/planning/plan-types.js';
import { loadPlan, planInputs } from '../../src/runtime/planning/plan.js';
import type { NodeType, Ports } from '../../src/runtime/types/node-type.js';
import { NodeRegistry } from '../../src/runtime/types/registry.js';
import { TEST_PLUGIN, linearPipeline, makeTempDir, removeTempDirs, writePipeline } from '../helpers/runtime.js';

afterAll(removeTempDirs);

/** What a plan says, without the live registry: what a memo must reproduce exactly. */
function planFacts(p: Plan): unknown {
  return {
    file: p.file, points: p.points, sweptPaths: p.sweptPaths, plugins: p.plugins,
    pointNodes: p.pointNodes.map((m) => [...m]),
    nodes: [...p.nodes.values()].map(({ registered, ...rest }) => ({ ...rest, type: registered.node.type, version: registered.node.version })),
  };
}

async function memoEntries(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
}

/** Restores what loadPlan would restore for `path` with `options` (undefined: a miss). */
async function restore(cache: PlanCache, path: string, options: Omit<PlanOptions, 'registry'>, registry: NodeRegistry): Promise<Plan | undefined> {
  return cache.restore(planInputs(path, await readFile(path, 'utf8'), options), registry, join(path, '..'));
}

const GRID = [
  'sweep:',
  '  grid:',
  '    scaled.factor: [2, 3]',
  '    m.offset: [0, 1]',
].join('\n');

describe('plan cache', () => {
  it('restores a plan equal to the one planning produced, plugins and sweep included', async () => {
    const dir = await makeTempDir();
    const path = await writePipeline(dir, linearPipeline({ extra: GRID }));
    const cache = new PlanCache(join(dir, 'plans'));
    const options = { overrides: ['src.n=6'] };
    const planned = await loadPlan(path, { ...options, registry: builtinRegistry(), planCache: () => cache });
    expect(await memoEntries(cache.dir)).toHaveLength(1);
    const restored = await restore(cache, path, options, builtinRegistry());
    expect(restored).toBeDefined();
    expect(planFacts(restored!)).toEqual(planFacts(planned));
    expect(restored!.points).toHaveLength(4);
    // loadPlan takes it from the memo: nothing new is written.
    const again = await loadPlan(path, { ...options, registry: builtinRegistry(), planCache: () => cache });
    expect(planFacts(again)).toEqual(planFacts(planned));
    expect(await memoEntries(cache.dir)).toHaveLength(1);
  });

  it('misses when the text or the command line changes', async () => {
    const dir = await makeTempDir();
    const path = await writePipeline(dir, linearPipeline());
    const cache = new PlanCache(join(dir, 'plans'));
    await loadPlan(path, { registry: builtinRegistry(), planCache: () => cache });
    expect(await restore(cache, path, {}, builtinRegistry())).toBeDefined();
    expect(await restore(cache, path, { overrides: ['scaled.factor=4'] }, builtinRegistry())).toBeUndefined();
    expect(await restore(cache, path, { grid: ['scaled.factor=4,5'] }, builtinRegistry())).toBeUndefined();
    expect(await restore(cache, path, { noSweep: true }, builtinRegistry())).toBeUndefined();
    await writeFile(path, `${linearPipeline()}# a comment\n`);
    expect(await restore(cache, path, {}, builtinRegistry())).toBeUndefined();
  });

  describe('checks the node types it was planned with', () => {
    const ports: Ports = { inputs: {}, outputs: { x: { kind: 'tensor', dtype: 'float32', rank: 1 } } };
    const base: NodeType = {
      type: 'gen', version: '1', description: 'test', ports,
      paramsSchema: { type: 'object', additionalProperties: false, properties: { n: { type: 'integer', default: 3 } } },
      run: async () => ({}),
    };
    const registryWith = (node: NodeType): NodeRegistry => new NodeRegistry().register(node);
    const text = 'name: t\nnodes:\n  g: {type: gen}\n';

    it.each([
      ['its version', { ...base, version: '2' }],
      ['its params schema (a default)', { ...base, paramsSchema: { ...base.paramsSchema, properties: { n: { type: 'integer', default: 4 } } } }],
      ['its ports', { ...base, ports: { inputs: {}, outputs: { x: { kind: 'tensor', dtype: 'float64', rank: 1 } } } as Ports }],
    ])('a change of %s is a miss', async (_what, changed) => {
      const dir = await makeTempDir();
      const path = await writePipeline(dir, text);
      const cache = new PlanCache(join(dir, 'plans'));
      const planned = await loadPlan(path, { registry: registryWith(base), planCache: () => cache });
      expect([...planned.nodes.values()][0].params).toEqual({ n: 3 });
      expect(await restore(cache, path, {}, registryWith({ ...base }))).toBeDefined();
      expect(await restore(cache, path, {}, registryWith(changed as NodeType))).toBeUndefined();
      expect(await restore(cache, path, {}, new NodeRegistry())).toBeUndefined();
      // And loadPlan plans again with the new type.
      const replanned = await loadPlan(path, { registry: registryWith(changed as NodeType), planCache: () => cache });
      expect([...replanned.nodes.values()][0].registered.node).toBe(changed);
    });
  });

  it('never memoises an invalid pipeline, so every error is still located', async () => {
    const dir = await makeTempDir();
    const path = await writePipeline(dir, linearPipeline({ factor: 3 }).replace('factor: 3', 'factor: "three"'));
    const cache = new PlanCache(join(dir, 'plans'));
    const attempt = (): Promise<Plan> => loadPlan(path, { registry: builtinRegistry(), planCache: () => cache });
    await expect(attempt()).rejects.toBeInstanceOf(ValidationError);
    const error = (await attempt().catch((e: unknown) => e)) as ValidationError;
    expect(error.diagnostics[0]).toMatchObject({ file: path, line: 11, field: 'nodes.scaled.params.factor' });
    expect(await memoEntries(cache.dir)).toHaveLength(0);
  });

  it('restores a grid of shared instances, resource hints and a zip axis as planned (memo entries keep each distinct value once)', async () => {
    const dir = await makeTempDir();
    const text = linearPipeline({
      extra: ['sweep:', '  grid:', '    scaled.factor: [2, 3, 2]', '    m.offset: [0, 1, 2, 3]', '  zip:', '    src.n: [4, 5]', '    src.step: [1, 1]'].join('\n'),
    }).replace('    params: { factor: 3 }', "    params: { factor: 3 }\n    resources: { cpus: 2, memory: 3G }");
    const path = await writePipeline(dir, text);
    const cache = new PlanCache(join(dir, 'plans'));
    const options = { overrides: ['m.offset=1', 'seed=3'] };
    const planned = await loadPlan(path, { ...options, registry: builtinRegistry(), planCache: () => cache });
    expect(planned.points).toHaveLength(6);
    expect([...planned.nodes.values()].filter((n) => n.nodeId === 'scaled').every((n) => n.resources?.cpus === 2)).toBe(true);
    const restored = await restore(cache, path, options, builtinRegistry());
    expect(restored).toBeDefined();
    expect(planFacts(restored!)).toEqual(planFacts(planned));
    // Equal values are one object again, as planning made them: the params of an instance's points.
    const scaled = [...restored!.nodes.values()].filter((n) => n.nodeId === 'scaled');
    expect(new Set(scaled.map((n) => n.params)).size).toBe(new Set(scaled.map((n) => JSON.stringify(n.params))).size);
  });

  it('ignores an entry whose digest matches but whose indexes point nowhere', async () => {
    const dir = await makeTempDir();
    const path = await writePipeline(dir, linearPipeline({ extra: GRID }));
    const cache = new PlanCache(join(dir, 'plans'));
    const planned = await loadPlan(path, { registry: builtinRegistry(), planCache: () => cache });
    const [name] = await memoEntries(cache.dir);
    const text = await readFile(join(cache.dir, name), 'utf8');
    const content = `${text.slice(0, text.lastIndexOf(',"digest":"'))}}`;
    const entry = JSON.parse(content) as { instances: { params: number[] } };
    const params = unpack(entry.instances.params);
    entry.instances.params = pack([1000, ...params.slice(1)]); // the first instance's params: no such index
    const forged = JSON.stringify(entry);
    await writeFile(join(cache.dir, name), `${forged.slice(0, -1)},"digest":"${sha256(forged)}"}`);
    expect(await restore(cache, path, {}, builtinRegistry())).toBeUndefined();
    const replanned = await loadPlan(path, { registry: builtinRegistry(), planCache: () => cache });
    expect(planFacts(replanned)).toEqual(planFacts(planned));
  });

  it(`does not memoise a plan of more than ${MAX_MEMO_INSTANCES} instances (restoring it would cost what planning does)`, async () => {
    const dir = await makeTempDir();
    const path = await writePipeline(dir, linearPipeline());
    const cache = new PlanCache(join(dir, 'plans'));
    const plan = await loadPlan(path, { registry: builtinRegistry() });
    const [first] = plan.nodes.values();
    const big = { ...plan, nodes: new Map(Array.from({ length: MAX_MEMO_INSTANCES + 1 }, (_, i) => [`${first.nodeId}#${i}`, { ...first, instanceId: `${first.nodeId}#${i}` }])) };
    await cache.save(planInputs(path, await readFile(path, 'utf8'), {}), big);
    expect(await memoEntries(cache.dir)).toHaveLength(0);
    await cache.save(planInputs(path, await readFile(path, 'utf8'), {}), plan);
    expect(await memoEntries(cache.dir)).toHaveLength(1);
  });

  it('ignores a corrupt memo and replaces it', async () => {
    const dir = await makeTempDir();
    const path = await writePipeline(dir, linearPipeline());
    const cache = new PlanCache(join(dir, 'plans'));
    const planned = await loadPlan(path, { registry: builtinRegistry(), planCache: () => cache });
    const [name] = await memoEntries(cache.dir);
    await writeFile(join(cache.dir, name), '{"format": 1, "key": "trunc');
    expect(await restore(cache, path, {}, builtinRegistry())).toBeUndefined();
    const replanned = await loadPlan(path, { registry: builtinRegistry(), planCache: () => cache });
    expect(planFacts(replanned)).toEqual(planFacts(planned));
    expect(await restore(cache, path, {}, builtinRegistry())).toBeDefined();
  });

  it('is saved only where the next run will look: the store the pipeline names', async () => {
    const dir = await makeTempDir();
    const path = await writePipeline(dir, `cache: "my cache" # its own store\n${linearPipeline()}`);
    expect(peekCacheField(await readFile(path, 'utf8'))).toBe('my cache');
    const stores: (string | undefined)[] = [];
    const caches = (declared: string | undefined): PlanCache => {
      stores.push(declared);
      return new PlanCache(join(dir, declared ?? 'artifacts', 'plans'));
    };
    await loadPlan(path, { registry: builtinRegistry(), planCache: caches });
    expect(stores).toEqual(['my cache', 'my cache']);
    expect(await memoEntries(join(dir, 'my cache', 'plans'))).toHaveLength(1);
    // A store the text does not show plainly (here: set in flow style) is not guessed; nothing is saved.
    const flow = await writePipeline(dir, `{name: f, cache: elsewhere, plugins: [${JSON.stringify(TEST_PLUGIN)}], nodes: {s: {type: test-source}}}\n`, 'flow.yaml');
    expect(peekCacheField(await readFile(flow, 'utf8'))).toBeUndefined();
    await loadPlan(flow, { registry: builtinRegistry(), planCache: caches });
    expect(existsSync(join(dir, 'elsewhere'))).toBe(false);
    expect(await memoEntries(join(dir, 'artifacts', 'plans'))).toHaveLength(0);
  });

  it('does not create a cache directory that must already exist', async () => {
    const dir = await makeTempDir();
    const path = await writePipeline(dir, linearPipeline());
    const root = join(dir, 'store');
    await loadPlan(path, { registry: builtinRegistry(), planCache: () => new PlanCache(join(root, 'state', 'plans'), root) });
    expect(existsSync(root)).toBe(false);
  });

  it('keeps at most 200 plans, dropping the oldest', async () => {
    const dir = await makeTempDir();
    const path = await writePipeline(dir, linearPipeline());
    const cache = new PlanCache(join(dir, 'plans'));
    const plan = await loadPlan(path, { registry: builtinRegistry() });
    const text = await readFile(path, 'utf8');
    for (let i = 0; i < 205; i++) await cache.save(planInputs(path, `${text}# ${i}\n`, {}), plan);
    expect(await memoEntries(cache.dir)).toHaveLength(200);
  });

  it('peekCacheField reads a plain top-level `cache:` line only', () => {
    expect(peekCacheField('name: a\ncache: .cache\nnodes: {}\n')).toBe('.cache');
    expect(peekCacheField("cache: 'a b'  # comment\n")).toBe('a b');
    expect(peekCacheField('cache: "x/y"\n')).toBe('x/y');
    expect(peekCacheField('name: a\n  cache: nested\n')).toBeUndefined();
    expect(peekCacheField('name: a\n')).toBeUndefined();
  });
});

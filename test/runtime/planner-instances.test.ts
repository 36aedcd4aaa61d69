// The planner's instances, checked against their definition on a grid: an instance per distinct
// (params, seed, upstream instances), numbered per node in the order of its first point, with its
// points ascending; each point maps every node to the instance that has it. Equal parts are shared
// (one points array, one inputs object), which a plan, being read-only, allows.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/nodes/index.js';
import { canonicalJson } from '../../src/runtime/keys/hash.js';
import type { Plan } from '../../src/runtime/planning/plan-types.js';
import { loadPlan } from '../../src/runtime/planning/plan.js';
import type { Json } from '../../src/runtime/tensor.js';
import { REPO_ROOT, makeTempDir, removeTempDirs, writePipeline } from '../helpers/runtime.js';

afterAll(removeTempDirs);

function checkInstances(plan: Plan): void {
  const nodeIds = [...new Set([...plan.nodes.values()].map((n) => n.nodeId))];
  const identities = new Map<string, string>();
  const count = new Map<string, number>();
  for (const n of plan.nodes.values()) {
    // Numbered per node, in plan order (which is the order of first points within a node).
    expect(n.instanceId).toBe(`${n.nodeId}#${count.get(n.nodeId) ?? 0}`);
    count.set(n.nodeId, (count.get(n.nodeId) ?? 0) + 1);
    expect(n.points.length).toBeGreaterThan(0);
    expect([...n.points].sort((a, b) => a - b)).toEqual([...n.points]);
    expect(new Set(n.points).size).toBe(n.points.length);
    for (const p of n.points) expect(plan.pointNodes[p].get(n.nodeId)).toBe(n.instanceId);
    // Distinct identities: params, seed and where the inputs come from.
    const identity = canonicalJson({ node: n.nodeId, params: n.params, seed: n.seed, inputs: n.inputs as unknown as Json });
    expect(identities.get(identity)).toBeUndefined();
    identities.set(identity, n.instanceId);
    for (const e of Object.values(n.inputs)) expect(plan.nodes.get(e.instanceId)?.nodeId).toBe(e.nodeId);
  }
  // Every point has every node, and the instance of each is the one whose points include it.
  plan.pointNodes.forEach((m, p) => {
    expect([...m.keys()].sort()).toEqual([...nodeIds].sort());
    for (const id of m.values()) expect(plan.nodes.get(id)!.points).toContain(p);
  });
}

describe('planner instances', () => {
  it('are one per distinct params, seed and upstream instances, numbered by first point, on a grid with a zip axis and -p', async () => {
    const dir = await makeTempDir();
    const base = (await readFile(join(REPO_ROOT, 'pipelines/quickstart.yaml'), 'utf8')).replace(/\nsweep:[\s\S]*$/, '\n');
    const path = await writePipeline(
      dir,
      `${base}sweep:\n  grid:\n    relabel.absorb: [0.7, 0.8, 0.8, 0.9]\n    train.lr: [0.01, 0.1, 0.01]\n  zip:\n    relabel2.absorb: [0.8, 0.7]\n    relabel2.relabel: [0.8, 0.9]\n`,
    );
    const plan = await loadPlan(path, { registry: builtinRegistry(), overrides: ['train2.epochs=3'] });
    expect(plan.points).toHaveLength(4 * 3 * 2);
    checkInstances(plan);
    const by = (id: string) => [...plan.nodes.values()].filter((n) => n.nodeId === id);
    // absorb 0.8 twice is one relabel instance; lr 0.01 twice is one train instance per relabel one.
    expect(by('relabel')).toHaveLength(3);
    expect(by('train')).toHaveLength(3 * 2);
    expect(by('data')).toHaveLength(1);
    expect(by('data')[0].points).toHaveLength(24);
    expect(by('train2').every((n) => n.params.epochs === 3)).toBe(true);
    // Shared, read-only parts: the points of an instance with as many as its upstream one are that array.
    const noise = by('noise')[0];
    expect(noise.points).toBe(by('data')[0].points);
    const evaluate = by('evaluate');
    expect(evaluate.every((n) => n.points === plan.nodes.get(n.inputs.test_probs.instanceId)!.points)).toBe(true);
  });

  it('are the same for the same grid given on the command line, point ids and origins aside', async () => {
    const dir = await makeTempDir();
    const base = (await readFile(join(REPO_ROOT, 'pipelines/quickstart.yaml'), 'utf8')).replace(/\nsweep:[\s\S]*$/, '\n');
    const inFile = await writePipeline(dir, `${base}sweep:\n  grid:\n    relabel.absorb: [0.7, 0.9]\n    seed: [1, 2]\n`, 'file.yaml');
    const plain = await writePipeline(dir, base, 'plain.yaml');
    const a = await loadPlan(inFile, { registry: builtinRegistry() });
    const b = await loadPlan(plain, { registry: builtinRegistry(), grid: ['relabel.absorb=0.7,0.9', 'seed=1,2'] });
    checkInstances(a);
    checkInstances(b);
    expect(b.points.map((p) => p.id)).toEqual(a.points.map((p) => p.id));
    expect(b.points[0].assignments.map((x) => x.origin)).toEqual(['--grid relabel.absorb=0.7,0.9', '--grid seed=1,2']);
    const strip = (p: Plan) => [...p.nodes.values()].map(({ registered: _r, ...n }) => n);
    expect(strip(b)).toEqual(strip(a));
    // The pipeline seed reaches every node without its own: each seed value is its own data instance.
    expect([...a.nodes.values()].filter((n) => n.nodeId === 'data')).toHaveLength(2);
  });
});

// Runtime benchmarks (issue: runtime). Each target is measured against its baseline in the same run:
//  1. no-op rerun of a 10-node pipeline holding ~200 MB of tensors, as a CLI process, against the
//     cold run (median of three, each into an empty cache) and against a bare `node` start
//     (interleaved, medians: start-up times on a shared machine drift); beside it, the same rerun
//     after an edit that changes no node (a comment), which must plan again (a plan-cache miss);
//  2. rerun after changing the leaf-side param, against the own time of the nodes that reran;
//  3. a 5×5 grid where only the last three nodes depend on the swept params, against
//     upstream + 25 × downstream / jobs measured on single runs.
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { builtinRegistry } from '../src/nodes/index.js';
import type { NodeRecord, RunEvent } from '../src/runtime/execution/events.js';
import { execute } from '../src/runtime/execution/executor.js';
import { loadPlan } from '../src/runtime/planning/plan.js';
import { Store } from '../src/runtime/store/store.js';
import type { BenchOptions, BenchRow } from './types.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const plugin = join(repo, 'test/fixtures/test-nodes.mjs');
const cli = join(repo, 'bin/sieve.cjs');

async function timeCommand(args: string[], cwd: string): Promise<number> {
  const t0 = performance.now();
  await execa('node', args, { cwd });
  return performance.now() - t0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function runInProcess(pipeline: string, cache: string, jobs: number, extra: { param?: string[]; grid?: string[] } = {}) {
  const plan = await loadPlan(pipeline, { registry: builtinRegistry(), overrides: extra.param, grid: extra.grid });
  const ran: NodeRecord[] = [];
  const ranIds: string[] = [];
  const t0 = performance.now();
  const result = await execute(plan, {
    store: new Store(cache), jobs,
    listeners: [{ onEvent: (e: RunEvent) => { if (e.event === 'node-end' && e.status === 'ran') { ran.push(e.record!); ranIds.push(e.node.nodeId); } } }],
  });
  if (!result.summary.ok) throw new Error(`benchmark pipeline failed: ${JSON.stringify(result.summary.failures)}`);
  return { wallMs: performance.now() - t0, ran, ranIds, ownMs: ran.reduce((s, r) => s + r.ms, 0) };
}

export async function benchRuntime(opts: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const mbPerNode = opts.quick ? 2 : 20;

  // 1. No-op rerun: a chain of 10 nodes, each holding a `mbPerNode` MB tensor.
  const chain = join(opts.workDir, 'chain.yaml');
  const nodes = [`  n0: {type: test-big, params: {mb: ${mbPerNode}}}`];
  for (let i = 1; i < 10; i++) nodes.push(`  n${i}: {type: test-scale, inputs: {x: n${i - 1}}, params: {factor: 1.0001}}`);
  nodes[9] = `  n9: {type: test-spin, inputs: {x: n8}, params: {ms: 300}}`;
  await writeFile(chain, `name: chain\nplugins: [${plugin}]\nnodes:\n${nodes.join('\n')}\n`);
  const colds: number[] = [];
  for (let i = 0; i < (opts.quick ? 1 : 3); i++) colds.push(await timeCommand([cli, 'run', chain, '--cache', join(opts.workDir, `cold-${i}`)], opts.workDir));
  const cold = median(colds);
  const cache = join(opts.workDir, 'cold-0');
  const rounds = opts.quick ? 5 : 15;
  const reruns: number[] = [];
  const bare: number[] = [];
  const edited: number[] = [];
  for (let i = 0; i < rounds; i++) {
    reruns.push(await timeCommand([cli, 'run', chain, '--cache', cache], opts.workDir));
    bare.push(await timeCommand(['-e', ''], opts.workDir));
    await appendFile(chain, `# edit ${i}\n`); // new text: planned again, every node still cached
    edited.push(await timeCommand([cli, 'run', chain, '--cache', cache], opts.workDir));
  }
  const noop = median(reruns);
  const nodeStart = median(bare);
  const replanned = median(edited);
  rows.push({ bench: 'runtime', metric: `cold run, 10 nodes, ${10 * mbPerNode} MB (CLI, median of ${colds.length})`, value: cold, unit: 'ms' });
  rows.push({
    bench: 'runtime', metric: `no-op rerun (CLI, median of ${rounds})`, value: noop, unit: 'ms', baseline: cold, ratio: noop / cold,
    target: '< 0.05 of cold', ok: noop / cold < 0.05,
  });
  rows.push({
    bench: 'runtime', metric: 'no-op rerun beyond bare node start', value: noop - nodeStart, unit: 'ms', baseline: nodeStart,
    target: '< 300 ms', ok: noop - nodeStart < 300,
  });
  rows.push({
    bench: 'runtime', metric: 'no-op rerun after a comment edit (plans again)', value: replanned, unit: 'ms', baseline: noop, ratio: replanned / noop,
  });

  // 2. Change the leaf-side param (the last node's) and rerun in process.
  await runInProcess(chain, cache, 2);
  const leaf = await runInProcess(chain, cache, 2, { param: ['n9.ms=400'] });
  const overhead = leaf.wallMs - leaf.ownMs;
  rows.push({
    bench: 'runtime', metric: `rerun after leaf param change (ran: ${leaf.ranIds.join(',')})`, value: leaf.wallMs, unit: 'ms',
    baseline: leaf.ownMs, ratio: leaf.wallMs / leaf.ownMs, target: '< 1.05 × own time of rerun nodes', ok: leaf.wallMs < 1.05 * leaf.ownMs,
  });
  rows.push({ bench: 'runtime', metric: 'runtime overhead of that rerun', value: overhead, unit: 'ms' });

  // 3. 5×5 grid over a.add × b.add: src and up are shared; a, b and m depend on the swept params.
  // Fewer than 25 b and m run: with a.add = 0, a passes up's values through, so b (same type and
  // params as a) computes what a computes for a.add = b.add, and m only sees 9 distinct sums.
  const jobs = 2;
  const spinMs = opts.quick ? 40 : 150;
  const grid = join(opts.workDir, 'grid.yaml');
  await writeFile(grid, [
    'name: grid', `plugins: [${plugin}]`, 'nodes:',
    '  src: {type: test-source, params: {n: 1000}}',
    `  up: {type: test-spin, inputs: {x: src}, params: {ms: ${spinMs * 3}}}`,
    `  a: {type: test-spin, inputs: {x: up}, params: {ms: ${spinMs}, add: 0}}`,
    `  b: {type: test-spin, inputs: {x: a}, params: {ms: ${spinMs}, add: 0}}`,
    '  m: {type: test-metrics, inputs: {x: b}}',
    'sweep:', '  grid:', '    a.add: [0, 1, 2, 3, 4]', '    b.add: [0, 1, 2, 3, 4]', '',
  ].join('\n'));
  const single = await runInProcess(grid, join(opts.workDir, 'single-cache'), 1, { grid: ['a.add=9', 'b.add=9'] });
  const ownOf = (r: typeof single, ids: string[]): number => r.ran.filter((_, i) => ids.includes(r.ranIds[i])).reduce((s, x) => s + x.ms, 0);
  const upstreamMs = ownOf(single, ['src', 'up']);
  const downstreamMs = ownOf(single, ['a', 'b', 'm']);
  const swept = await runInProcess(grid, join(opts.workDir, 'grid-cache'), jobs);
  const count = (id: string): number => swept.ranIds.filter((x) => x === id).length;
  const expected = upstreamMs + (25 * downstreamMs) / jobs;
  rows.push({
    bench: 'runtime', metric: `5×5 grid, jobs ${jobs} (ran: up ${count('up')}×, a ${count('a')}×, b ${count('b')}×, m ${count('m')}×)`,
    value: swept.wallMs, unit: 'ms', baseline: expected, ratio: swept.wallMs / expected,
    target: '<= 1.3 × (upstream + 25 × downstream / jobs), upstream once', ok: swept.wallMs <= 1.3 * expected && count('up') === 1 && count('src') === 1,
  });
  return rows;
}

// Planning a large grid: the quickstart pipeline over an absorb × relabel × lr grid of 10^5 points
// (10^4 with --quick), planned from its text (no memo), against planning the same file with one
// point. Targets: < 5 s and < 500 MB of memory for 10^5 points.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { builtinRegistry } from '../src/nodes/index.js';
import { loadPlan } from '../src/runtime/planning/plan.js';
import type { BenchOptions, BenchRow } from './types.js';

const PIPELINE = new URL('../pipelines/quickstart.yaml', import.meta.url);

function values(n: number, from: number, to: number): string {
  return `[${Array.from({ length: n }, (_, i) => +(from + ((to - from) * i) / Math.max(1, n - 1)).toFixed(6)).join(', ')}]`;
}

export async function benchPlanning(opts: BenchOptions): Promise<BenchRow[]> {
  const { readFile } = await import('node:fs/promises');
  const base = (await readFile(PIPELINE, 'utf8')).replace(/\nsweep:[\s\S]*$/, '\n');
  const [a, b, c] = opts.quick ? [10, 10, 10] : [50, 50, 40];
  const points = a * b * c;
  const grid = `${base}sweep:\n  grid:\n    relabel.absorb: ${values(a, 0.5, 0.99)}\n    relabel.relabel: ${values(b, 0.5, 0.99)}\n    train.lr: ${values(c, 0.1, 1)}\n`;
  const one = join(opts.workDir, 'one.yaml');
  const big = join(opts.workDir, 'grid.yaml');
  await writeFile(one, base.replace('name: quickstart', 'name: one'));
  await writeFile(big, grid);
  const time = async (path: string): Promise<{ ms: number; cpuMs: number; mb: number; points: number }> => {
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const plan = await loadPlan(path, { registry: builtinRegistry() });
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000, mb: (peak - rss0) / 2 ** 20, points: plan.points.length };
  };
  await time(one); // loads the node types and compiles their schemas
  const baseline = await time(one);
  const r = await time(big);
  if (r.points !== points) throw new Error(`planned ${r.points} points, expected ${points}`);
  const limit = opts.quick ? 500 : 5000;
  return [
    { bench: 'planning', metric: `plan a ${points}-point grid`, value: r.ms, unit: 'ms', baseline: baseline.ms, ratio: r.ms / baseline.ms, target: `< ${limit} ms`, ok: r.ms < limit },
    // CPU time beside it: on a shared machine, wall time also measures the other processes.
    { bench: 'planning', metric: `CPU time to plan a ${points}-point grid`, value: r.cpuMs, unit: 'ms', baseline: baseline.cpuMs, ratio: r.cpuMs / baseline.cpuMs },
    { bench: 'planning', metric: `memory to plan a ${points}-point grid`, value: r.mb, unit: 'MB', baseline: baseline.mb, target: '< 500 MB', ok: r.mb < 500 },
  ];
}

// Results benchmarks (issue 11): `sieve results` and `sieve report` over the lockfile of a
// 1,000-point grid (10 × 10 × 10), as CLI processes, each beside the baseline of a `node` process
// that only reads and parses that lockfile (medians of interleaved runs). Targets: results < 1 s,
// report < 5 s (DVC's `exp show` slows down with many experiments: treeverse/dvc#7824). Where GNU
// time is installed, the CPU time of each process is reported too: on a shared, loaded machine the
// wall times measure the queue for a core as much as the work.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { BenchOptions, BenchRow } from './types.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const cli = join(repo, 'bin/sieve.cjs');

// An evaluate-like metrics node: scalar metrics that depend on the three swept params, per-class
// rows and a confusion matrix for 10 classes, so that the report draws every kind of plot.
const PLUGIN = `
const K = 10;
export default [
  { type: 'bench-data', version: '1', description: 'noise report',
    paramsSchema: { type: 'object', properties: {} },
    ports: { inputs: {}, outputs: { report: { kind: 'json' } } },
    async run() { return { report: { transition_matrix: Array.from({ length: K }, (_, i) => Array.from({ length: K }, (_, j) => (i === j ? 0.6 : 0.4 / (K - 1)))) } }; } },
  { type: 'bench-eval', version: '1', description: 'metrics', metrics: ['metrics'],
    paramsSchema: { type: 'object', properties: { a: { type: 'number', default: 0 }, b: { type: 'number', default: 0 }, c: { type: 'number', default: 0 } } },
    ports: { inputs: { report: { kind: 'json' } }, outputs: { metrics: { kind: 'json' } } },
    async run(ctx) {
      const { a, b, c } = ctx.params;
      const acc = 0.6 + 0.02 * a - 0.001 * (b - 5) ** 2 + 0.003 * c;
      return { metrics: {
        test_accuracy: acc, ece: 0.3 - acc / 4, selection_precision: 0.9 + a / 100, selection_recall: 0.5 + b / 20, noise_rate: 0.4, test_samples: 1000,
        per_class: Array.from({ length: K }, (_, k) => ({ class: 'class_' + k, selection_precision: 0.8 + k / 100, selection_recall: 0.5 + k / 30 })),
        confusion: { rows: 'true class', columns: 'predicted class', matrix: Array.from({ length: K }, (_, i) => Array.from({ length: K }, (_, j) => (i === j ? 80 : 2))) },
        table: 'text',
      } };
    } },
];
`;

const range = (n: number): string => `[${Array.from({ length: n }, (_, i) => i).join(', ')}]`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const TIME = '/usr/bin/time';
const haveTime = existsSync(TIME);

/** Wall time of `node args`, and its CPU time (user + system, from GNU time when installed: a figure a loaded machine does not inflate). */
async function timed(args: string[], cwd: string, cpu?: number[]): Promise<number> {
  const env = { NO_COLOR: '1', COLUMNS: '100' };
  const t0 = performance.now();
  if (haveTime && cpu) {
    const r = await execa(TIME, ['-f', 'sieve-cpu %U %S', 'node', ...args], { cwd, env });
    const m = /sieve-cpu ([\d.]+) ([\d.]+)/.exec(r.stderr);
    if (m) cpu.push((Number(m[1]) + Number(m[2])) * 1000);
  } else await execa('node', args, { cwd, env });
  return performance.now() - t0;
}

export async function benchResults(opts: BenchOptions): Promise<BenchRow[]> {
  const side = opts.quick ? 4 : 10;
  const points = side ** 3;
  const dir = opts.workDir;
  await writeFile(join(dir, 'plugin.mjs'), PLUGIN);
  const pipeline = join(dir, 'grid.yaml');
  await writeFile(pipeline, [
    'name: grid', 'plugins: [./plugin.mjs]', 'nodes:',
    '  data: { type: bench-data }',
    '  evaluate: { type: bench-eval, inputs: { report: data.report } }',
    'sweep:', '  grid:', `    evaluate.a: ${range(side)}`, `    evaluate.b: ${range(side)}`, `    evaluate.c: ${range(side)}`, '',
  ].join('\n'));
  const cache = join(dir, 'cache');
  await execa('node', [cli, 'run', pipeline, '--cache', cache, '--json'], { cwd: dir });
  const lock = join(dir, 'grid.lock');
  const lockPoints = Object.keys((JSON.parse(await readFile(lock, 'utf8')) as { points: object }).points).length;
  if (lockPoints !== points) throw new Error(`the grid's lockfile has ${lockPoints} points, expected ${points}`);

  const parseOnly = ['-e', `JSON.parse(require('node:fs').readFileSync(${JSON.stringify(lock)}, 'utf8'))`];
  const results = [cli, 'results', pipeline, '--cache', cache];
  const report = [cli, 'report', pipeline, '--cache', cache, '-o', join(dir, 'report.html')];
  // One untimed call of each first (plan memo, file-system caches), then interleaved medians.
  await timed(results, dir);
  const base: number[] = [];
  const res: number[] = [];
  const rep: number[] = [];
  const cpu = { base: [] as number[], res: [] as number[], rep: [] as number[] };
  for (let i = 0; i < (opts.quick ? 1 : 3); i++) {
    base.push(await timed(parseOnly, dir, cpu.base));
    res.push(await timed(results, dir, cpu.res));
    rep.push(await timed(report, dir, cpu.rep));
  }
  const b = median(base);
  const r = median(res);
  const p = median(rep);
  const html = await readFile(join(dir, 'report.html'), 'utf8');
  const svgs = (html.match(/<svg /g) ?? []).length;
  const rows: BenchRow[] = [
    { bench: 'results', metric: `lockfile of ${points} points: node reads + parses it (baseline)`, value: b, unit: 'ms' },
    { bench: 'results', metric: `sieve results, ${points} points`, value: r, unit: 'ms', baseline: b, ratio: r / b, target: '< 1000 ms', ok: r < 1000 },
    { bench: 'results', metric: `sieve report, ${points} points (${svgs} plots)`, value: p, unit: 'ms', baseline: b, ratio: p / b, target: '< 5000 ms', ok: p < 5000 },
  ];
  if (cpu.base.length && cpu.res.length && cpu.rep.length) {
    const [cb, cr, cp] = [median(cpu.base), median(cpu.res), median(cpu.rep)];
    rows.push(
      { bench: 'results', metric: 'CPU time (user + sys): lockfile read + parse (baseline)', value: cb, unit: 'ms' },
      { bench: 'results', metric: 'CPU time (user + sys): sieve results', value: cr, unit: 'ms', baseline: cb, ratio: cr / cb },
      { bench: 'results', metric: 'CPU time (user + sys): sieve report', value: cp, unit: 'ms', baseline: cb, ratio: cp / cb },
    );
  }
  return rows;
}

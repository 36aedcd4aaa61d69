// Never losing a result, and comparing them: the lockfile and results/ accumulate points, -p joins
// point ids and replaces a swept axis, unreadable lockfiles are refused, `sieve results` options,
// `sieve runs`, `show --out`, and the project root that holds the cache and the results.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeNpy } from '../../src/data/npy.js';
import { ValidationError } from '../../src/runtime/errors.js';
import { lockfilePath } from '../../src/runtime/results/lockfile.js';
import { decodeSafetensors } from '../../src/runtime/store/safetensors.js';
import {
  PLUGINS_LINE, REPO_ROOT, assertCliBuilt, clearLog, executionCounts, linearPipeline, lockfileOf, makeTempDir, planPipeline,
  removeTempDirs, runCli, writePipeline,
} from '../helpers/runtime.js';

beforeAll(assertCliBuilt);
afterEach(removeTempDirs);

const GRID = linearPipeline({ extra: 'sweep:\n  grid:\n    scaled.factor: [1, 2]\n    m.offset: [0, 0.5, 7]' });

async function setup(yaml = GRID) {
  const dir = await makeTempDir();
  const pipeline = await writePipeline(dir, yaml);
  const cache = join(dir, 'cache');
  const log = join(dir, 'runs.log');
  const sieve = (...args: string[]) => runCli([...args, '--cache', cache], { cwd: dir, log });
  const json = async (...args: string[]) => {
    const r = await sieve(...args, '--json');
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout) as { columns: string[]; rows: Record<string, unknown>[] };
  };
  return { dir, pipeline, cache, log, sieve, json };
}

const csvRows = async (path: string): Promise<string[]> => (await readFile(path, 'utf8')).trimEnd().split('\n').slice(1);

describe('never lose a result', () => {
  it('a -p run and a narrower grid add points to the lockfile and results/; --latest shows the last run; runs lists them', async () => {
    const t = await setup();
    expect((await t.sieve('run', t.pipeline)).exitCode).toBe(0);
    expect(Object.keys((await lockfileOf(t.pipeline)).points)).toHaveLength(6);

    // A -p run on a param the sweep does not set: its own point, named by the override.
    const single = await t.sieve('run', t.pipeline, '-p', 'src.value=3', '--no-sweep');
    expect(single.exitCode).toBe(0);
    let points = Object.keys((await lockfileOf(t.pipeline)).points);
    expect(points).toHaveLength(7);
    expect(points).toContain('src.value=3');
    expect(await csvRows(join(t.dir, 'results', 'linear.csv'))).toHaveLength(7); // every point, this one too

    // A narrower grid: its points are replaced (same ids), the others stay.
    const narrow = await t.sieve('run', t.pipeline, '--no-sweep', '--grid', 'scaled.factor=2,5');
    expect(narrow.exitCode).toBe(0);
    points = Object.keys((await lockfileOf(t.pipeline)).points);
    expect(points).toHaveLength(9);
    expect(points).toEqual(expect.arrayContaining(['scaled.factor=1,m.offset=0', 'src.value=3', 'scaled.factor=2', 'scaled.factor=5']));
    expect(await csvRows(join(t.dir, 'results', 'linear.csv'))).toHaveLength(9);

    const latest = await t.json('results', t.pipeline, '--latest');
    expect(latest.rows.map((r) => r.point)).toEqual(['scaled.factor=2', 'scaled.factor=5']);

    const runs = JSON.parse((await t.sieve('runs', t.pipeline, '--json')).stdout) as { command: string[]; points: string[]; status: string }[];
    expect(runs.map((r) => [r.status, r.points.length])).toEqual([['ok', 6], ['ok', 1], ['ok', 2]]);
    expect(runs[1].command).toEqual(['run', t.pipeline, '-p', 'src.value=3', '--no-sweep', '--cache', t.cache]);
    const text = await t.sieve('runs', t.pipeline);
    expect(text.stdout.split('\n')[0]).toMatch(/^time\s+status\s+points\s+nodes\s+took\s+command$/);
    expect(text.stdout).toMatch(/ok\s+1\s+3 ran, 0 cached\s+\d+ ms\s+sieve run /);
  });

  it('-p on a swept param replaces that axis (Hydra) and says so in one line, for run and for status', async () => {
    const t = await setup();
    const r = await t.sieve('run', t.pipeline, '-p', 'scaled.factor=7');
    expect(r.exitCode).toBe(0);
    const note = '-p scaled.factor=7 replaces the grid axis scaled.factor (1, 2)';
    expect(r.stderr.trim()).toBe(note);
    expect(Object.keys((await lockfileOf(t.pipeline)).points)).toEqual([
      'scaled.factor=7,m.offset=0', 'scaled.factor=7,m.offset=0.5', 'scaled.factor=7,m.offset=7',
    ]);
    expect((await lockfileOf(t.pipeline)).points['scaled.factor=7,m.offset=0.5'].nodes.scaled.params.factor).toBe(7);
    const status = await t.sieve('status', t.pipeline, '-p', 'scaled.factor=7');
    expect(status.stderr.trim()).toBe(note);
    expect(status.stdout).toContain('everything is up to date');
  });

  it('a lockfile Sieve cannot read is never overwritten: exit 2, why, and nothing runs', async () => {
    const t = await setup(linearPipeline());
    const lock = lockfilePath(t.pipeline);
    const cases: [string, RegExp][] = [
      ['version: 1\npoints:\n  default: {}\n', /not JSON, perhaps the YAML format of an older Sieve/],
      ['{"version": 1, "points": {"default": {"assi', /not valid JSON .*it may be truncated/],
      ['{"version": 9, "points": {}}', /its format version is 9/],
      ['', /it is empty/],
    ];
    for (const [text, why] of cases) {
      await writeFile(lock, text);
      for (const command of ['run', 'status', 'results']) {
        const r = await t.sieve(command, t.pipeline);
        expect(r.exitCode, `${command} on ${JSON.stringify(text)}`).toBe(2);
        expect(r.stderr).toMatch(why);
        expect(r.stderr).toContain('Sieve does not overwrite a lockfile it cannot read');
      }
      expect(await readFile(lock, 'utf8')).toBe(text);
    }
    expect(await executionCounts(t.log)).toEqual({});
  });

  it('a failed run writes no empty lockfile, keeps the records of an earlier run, and leaves no temp file beside the pipeline', async () => {
    const t = await setup(`name: some-fail\n${PLUGINS_LINE}\nnodes:\n  src: { type: test-source }\n  f: { type: test-fail, inputs: { x: src } }\n`);
    expect((await t.sieve('run', t.pipeline, '--only', 'src')).exitCode).toBe(0);
    const before = await lockfileOf(t.pipeline);
    expect((await t.sieve('run', t.pipeline, '-p', 'f.message=again')).exitCode).toBe(1);
    const after = await lockfileOf(t.pipeline);
    expect(Object.keys(after.points)).toEqual(['default', 'f.message=again']);
    expect(after.points.default).toEqual(before.points.default);
    expect(Object.keys(after.points['f.message=again'].nodes)).toEqual(['src']);

    // A pipeline whose only node fails: no lockfile at all.
    const u = await setup('name: nothing\nnodes:\n  f0: { type: command, params: { run: "exit 3", outputs: { y: { kind: json } } } }\n');
    expect((await u.sieve('run', u.pipeline)).exitCode).toBe(1);
    expect(existsSync(lockfilePath(u.pipeline))).toBe(false);
    for (const d of [t.dir, u.dir]) expect(readdirSync(d).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('sweeps that switch a param off, and per-point planning errors', () => {
  const noisy = (zip: string): string => [
    'name: noisy',
    'nodes:',
    '  data: { type: load, params: { source: synthetic, num_classes: 4, dim: 8, train_per_class: 5, test_per_class: 2 } }',
    '  noise:',
    '    type: noise-inject',
    '    inputs: { labels: data.train_labels, classes: data.classes }',
    '    params: { model: symmetric, rate: 0.3 }',
    'sweep:',
    '  zip:',
    zip,
    '',
  ].join('\n');

  it('null in a zip row unsets the param, so symmetric and asymmetric noise fit one grid', async () => {
    const dir = await makeTempDir();
    const path = await writePipeline(dir, noisy('    noise.model: [symmetric, asymmetric]\n    noise.map: [null, {class_0: class_1}]'));
    const plan = await planPipeline(path);
    expect(plan.points.map((p) => p.id)).toEqual(['noise.model=symmetric,noise.map=null', 'noise.model=asymmetric,noise.map={"class_0":"class_1"}']);
    const params = plan.pointNodes.map((ids) => plan.nodes.get(ids.get('noise')!)!.params);
    expect(params[0]).not.toHaveProperty('map');
    expect(params[1].map).toEqual({ class_0: 'class_1' });
  });

  it('a combination that is invalid at one point is reported at planning, with the point named', async () => {
    const dir = await makeTempDir();
    const path = await writePipeline(dir, noisy('    noise.model: [symmetric, symmetric]\n    noise.map: [null, cifar10]'));
    const err = await planPipeline(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).message).toContain(
      'params "map" and "transition" only apply to model "asymmetric", not "symmetric" (at grid point noise.model=symmetric,noise.map=cifar10)',
    );
  });
});

describe('sieve results', () => {
  it('--filter, --sort, --best, --metric, --over, --json and --csv; the table fits COLUMNS and marks the best point', async () => {
    const t = await setup();
    expect((await t.sieve('run', t.pipeline)).exitCode).toBe(0);
    // src = [1, 2, 3, 4]: m.sum = 10 * factor + offset, m.mean = 2.5 * factor.
    const filtered = await t.json('results', t.pipeline, '--filter', 'scaled.factor>=2', '--filter', 'offset!=0.5');
    expect(filtered.rows.map((r) => r.point)).toEqual(['scaled.factor=2,m.offset=0', 'scaled.factor=2,m.offset=7']);

    const sorted = (await t.sieve('results', t.pipeline, '--sort', 'sum', '--csv')).stdout.trimEnd().split('\n');
    expect(sorted[0]).toBe('point,scaled.factor,m.offset,m.mean,m.sum');
    expect(sorted.slice(1).map((l) => Number(l.split(',').at(-1)))).toEqual([27, 20.5, 20, 17, 10.5, 10]);

    const best = await t.json('results', t.pipeline, '--best', 'm.sum', '--metric', 'sum');
    expect(best.columns).toEqual(['point', 'scaled.factor', 'm.offset', 'm.sum']);
    expect(best.rows).toEqual([{ point: 'scaled.factor=2,m.offset=7', 'scaled.factor': 2, 'm.offset': 7, 'm.sum': 27 }]);

    const over = await t.json('results', t.pipeline, '--over', 'm.offset', '--metric', 'sum');
    expect(over.columns).toEqual(['point', 'scaled.factor', 'n', 'm.sum', 'm.sum.std']);
    const sd = Math.sqrt(((0 - 2.5) ** 2 + (0.5 - 2.5) ** 2 + (7 - 2.5) ** 2) / 2);
    expect(over.rows).toHaveLength(2);
    expect(over.rows[1]).toMatchObject({ point: 'scaled.factor=2', 'scaled.factor': 2, n: 3, 'm.sum': 22.5 });
    expect(over.rows[1]['m.sum.std'] as number).toBeCloseTo(sd, 12);
    const overText = await t.sieve('results', t.pipeline, '--over', 'offset', '--metric', 'sum');
    expect(overText.stdout).toContain(`22.5000 ± ${sd.toFixed(4)}`);
    expect(await readFile(join(t.dir, 'results', 'linear.over-m.offset.csv'), 'utf8')).toContain('m.sum,m.sum.std');

    for (const columns of ['40', '60', '100']) {
      const r = await runCli(['results', t.pipeline, '--cache', t.cache], { cwd: t.dir, env: { COLUMNS: columns } });
      const table = r.stdout.split('\n').filter((l) => !l.startsWith('written') && !l.startsWith('* best'));
      for (const line of table) expect(line.length, line).toBeLessThanOrEqual(Number(columns));
      expect(r.stdout).toMatch(/^\* /m);
    }
    const bad = await t.sieve('results', t.pipeline, '--sort', 'nope');
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--sort nope: no such metric (metrics: m.mean, m.sum)');
    const badFilter = await t.sieve('results', t.pipeline, '--filter', 'scaled.factor~2');
    expect(badFilter.exitCode).toBe(2);
  });
});

describe('show', () => {
  it('names the grid point and object paths, and --out writes .npy and .safetensors for NumPy and PyTorch', async () => {
    const t = await setup(linearPipeline({ extra: 'sweep:\n  grid:\n    scaled.factor: [2, 3]' }));
    expect((await t.sieve('run', t.pipeline)).exitCode).toBe(0);
    const point = 'scaled.factor=3';
    const shown = await t.sieve('show', 'scaled', t.pipeline, '--point', point);
    expect(shown.stdout).toContain(`at point ${point}`);
    expect(shown.stdout).toMatch(new RegExp(`${join(t.cache, 'objects').replace(/[/\\.]/g, '\\$&')}/[0-9a-f]{2}/[0-9a-f]{62} \\(safetensors, tensor "data"\\)`));

    const npy = join(t.dir, 'y.npy');
    expect((await t.sieve('show', 'scaled', t.pipeline, '--point', point, '--out', npy)).exitCode).toBe(0);
    const arr = decodeNpy(new Uint8Array(await readFile(npy)), 'y.npy');
    expect(arr.shape).toEqual([4]);
    expect(Array.from(arr.data as Float32Array)).toEqual([3, 6, 9, 12]);

    const st = join(t.dir, 'y.safetensors');
    expect((await t.sieve('show', 'scaled', t.pipeline, '--point', point, '-o', st)).exitCode).toBe(0);
    const { tensors } = decodeSafetensors(new Uint8Array(await readFile(st)));
    expect(Object.keys(tensors)).toEqual(['y']);
    expect(Array.from(tensors.y.data as Float32Array)).toEqual([3, 6, 9, 12]);

    // The README's NumPy reader, run on the object `show` printed and on the files it wrote.
    const python = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
    if (python.status === 0) {
      const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
      const block = /```python\n([\s\S]*?def read_safetensors[\s\S]*?)\n\n[a-z]+ = read_safetensors/.exec(readme)![1];
      const object = /(\/\S+\/objects\/[0-9a-f]{2}\/[0-9a-f]{62}) \(safetensors/.exec(shown.stdout)![1];
      const script = `${block}\nimport sys\nprint(read_safetensors(sys.argv[1])["data"].tolist(), read_safetensors(sys.argv[2])["y"].tolist(), np.load(sys.argv[3]).tolist())`;
      const r = spawnSync('python3', ['-c', script, object, st, npy], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('[3.0, 6.0, 9.0, 12.0] [3.0, 6.0, 9.0, 12.0] [3.0, 6.0, 9.0, 12.0]');
    } else {
      console.warn('skipped the README NumPy reader check: python3 with numpy is not installed');
    }

    const wrong = await t.sieve('show', 'm', t.pipeline, '--out', npy);
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toContain('has no tensor output to write as .npy');
  });
});

describe('the project root', () => {
  it('the default cache and results/ are at the nearest folder above the pipeline with package.json, wherever sieve runs', async () => {
    const root = await makeTempDir();
    await writeFile(join(root, 'package.json'), '{}');
    await mkdir(join(root, 'exp', 'deep'), { recursive: true });
    const pipeline = await writePipeline(join(root, 'exp', 'deep'), linearPipeline({ extra: 'sweep:\n  grid:\n    scaled.factor: [1, 2]' }));
    const elsewhere = await makeTempDir();
    const log = join(elsewhere, 'runs.log');
    expect((await runCli(['run', pipeline], { cwd: elsewhere, log })).exitCode).toBe(0);
    expect(existsSync(join(root, 'artifacts', 'objects'))).toBe(true);
    expect(existsSync(join(root, 'results', 'linear.csv'))).toBe(true);
    expect(existsSync(join(root, 'exp', 'deep', 'pipeline.lock'))).toBe(true);
    expect(readdirSync(elsewhere)).toEqual(['runs.log']);
    // From the project's root, the same cache: nothing runs again.
    await clearLog(log);
    expect((await runCli(['run', 'exp/deep/pipeline.yaml'], { cwd: root, log })).exitCode).toBe(0);
    expect(await executionCounts(log)).toEqual({});
    // Without .git or package.json above it, the cache is beside the pipeline.
    const bare = await makeTempDir();
    const p2 = await writePipeline(bare, linearPipeline());
    expect((await runCli(['run', p2], { cwd: elsewhere })).exitCode).toBe(0);
    expect(existsSync(join(bare, 'artifacts', 'objects'))).toBe(true);
  });
});

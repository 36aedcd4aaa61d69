// Sweeps: grid points share every node instance they can, nodes that reach the same key run once,
// zip pairs lists, and `sieve results` tabulates the metrics of every point.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  assertCliBuilt, executionCounts, linearPipeline, makeTempDir, nodeEnds, removeTempDirs, runCli, runInProcess,
  writePipeline,
} from '../helpers/runtime.js';

afterEach(removeTempDirs);

const FIVE = '0,1,2,3,4';

async function setup(yaml = linearPipeline()) {
  const dir = await makeTempDir();
  return { dir, pipeline: await writePipeline(dir, yaml), cache: join(dir, 'cache'), log: join(dir, 'runs.log') };
}

describe('grid deduplication', () => {
  it('a sweep over the last node runs the upstream nodes once (sweep section of the file)', async () => {
    const t = await setup(linearPipeline({ extra: `sweep:\n  grid:\n    m.offset: [${FIVE}]` }));
    const run = await runInProcess(t.pipeline, { cache: t.cache, log: t.log });
    expect(run.plan.points).toHaveLength(5);
    expect(await executionCounts(t.log)).toEqual({ src: 1, scaled: 1, m: 5 });
    expect(run.result.summary.ok).toBe(true);
    // One instance of src and scaled, shared by all 5 points.
    const srcEnds = nodeEnds(run.events).filter((e) => e.node.nodeId === 'src');
    expect(srcEnds).toHaveLength(1);
    expect(srcEnds[0].node.points).toHaveLength(5);
  });

  it('a 5×5 grid on two downstream params runs each distinct key once', async () => {
    const t = await setup();
    const run = await runInProcess(t.pipeline, { cache: t.cache, log: t.log, grid: [`scaled.factor=1,2,3,4,5`, `m.offset=${FIVE}`] });
    expect(run.plan.points).toHaveLength(25);
    expect(await executionCounts(t.log)).toEqual({ src: 1, scaled: 5, m: 25 });
  });

  it('points whose nodes reach the same key (same input content) share one execution', async () => {
    // `label` does not change scaled's output, so m sees identical inputs for every label: 5 keys, not 25.
    const t = await setup();
    const run = await runInProcess(t.pipeline, { cache: t.cache, log: t.log, grid: ['scaled.label=a,b,c,d,e', `m.offset=${FIVE}`] });
    expect(run.plan.points).toHaveLength(25);
    expect(await executionCounts(t.log)).toEqual({ src: 1, scaled: 5, m: 5 });
    const mEnds = nodeEnds(run.events).filter((e) => e.node.nodeId === 'm');
    expect(mEnds.filter((e) => e.status === 'ran')).toHaveLength(5);
    expect(mEnds.filter((e) => e.status === 'cached')).toHaveLength(20);
    expect(new Set(mEnds.map((e) => e.key)).size).toBe(5);
  });

  it('zip pairs the lists: n points, not n²', async () => {
    const t = await setup();
    const run = await runInProcess(t.pipeline, { cache: t.cache, log: t.log, zip: ['scaled.factor=1,2,3', 'm.offset=10,20,30'] });
    expect(run.plan.points.map((p) => p.id)).toEqual([
      'scaled.factor=1,m.offset=10', 'scaled.factor=2,m.offset=20', 'scaled.factor=3,m.offset=30',
    ]);
    expect(await executionCounts(t.log)).toEqual({ src: 1, scaled: 3, m: 3 });
  });
});

describe('sweeps from the CLI', () => {
  beforeAll(assertCliBuilt);

  it('unequal zip lengths are a clear error with exit 2, and nothing runs', async () => {
    const t = await setup();
    const r = await runCli(['sweep', t.pipeline, '--cache', t.cache, '--zip', 'scaled.factor=1,2,3', '--zip', 'm.offset=1,2'], { cwd: t.dir, log: t.log });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('command line: --grid/--zip: zip lists must have equal lengths: scaled.factor has 3, m.offset has 2');
    expect(await executionCounts(t.log)).toEqual({});
  });

  it('`sieve results` prints and writes CSV and JSON with one row per point and the metric columns', async () => {
    const t = await setup();
    const grid = ['--grid', 'scaled.factor=1,2', '--grid', 'm.offset=0,0.5,7'];
    const run = await runCli(['sweep', t.pipeline, '--cache', t.cache, ...grid], { cwd: t.dir, log: t.log });
    expect(run.exitCode).toBe(0);
    expect(await executionCounts(t.log)).toEqual({ src: 1, scaled: 2, m: 6 });
    // The run itself ends with the table, from the lockfile it has just written.
    expect(run.stdout).toContain(`written ${join(t.dir, 'results', 'linear')}.csv`);

    const out = join(t.dir, 'tables');
    const r = await runCli(['results', t.pipeline, '--cache', t.cache, '-o', out, ...grid], { cwd: t.dir });
    expect(r.exitCode).toBe(0);
    // src = [1, 2, 3, 4] (sum 10): m.sum = 10 * factor + offset, m.mean = 2.5 * factor.
    const expected = [
      [1, 0], [1, 0.5], [1, 7], [2, 0], [2, 0.5], [2, 7],
    ].map(([factor, offset]) => ({
      point: `scaled.factor=${factor},m.offset=${offset}`, 'scaled.factor': factor, 'm.offset': offset,
      'm.mean': 2.5 * factor, 'm.sum': 10 * factor + offset,
    }));
    // Text (the metrics' printable `table`) is not a metric column.

    const json = JSON.parse(await readFile(join(out, 'linear.json'), 'utf8')) as { columns: string[]; rows: unknown[] };
    expect(json.columns).toEqual(['point', 'scaled.factor', 'm.offset', 'm.mean', 'm.sum']);
    expect(json.rows).toEqual(expected);

    const csv = (await readFile(join(out, 'linear.csv'), 'utf8')).trimEnd().split('\n');
    expect(csv[0]).toBe('point,scaled.factor,m.offset,m.mean,m.sum');
    expect(csv.slice(1)).toEqual(expected.map((e) => `"${e.point}",${e['scaled.factor']},${e['m.offset']},${e['m.mean']},${e['m.sum']}`));

    // The printed table: a header (short names where unambiguous), a rule, and one line per point
    // labelled in short form; the best point by the first varying metric is marked.
    const lines = r.stdout.split('\n').filter((l) => l.trim().length > 0);
    expect(lines[0].trim().split(/\s+/)).toEqual(['point', 'factor', 'offset', 'mean', 'sum']);
    for (const e of expected) {
      const label = `factor=${e['scaled.factor']},offset=${e['m.offset']}`;
      expect(lines.some((l) => l.slice(2).startsWith(label) && l.includes(String(e['m.sum'])))).toBe(true);
    }
    // m.mean = 5 at the three factor-2 points: the first of them is marked.
    expect(lines.filter((l) => l.startsWith('* factor'))).toEqual([expect.stringMatching(/^\* factor=2,offset=0 /)]);
    expect(r.stdout).toContain('* best m.mean');
    expect(r.stdout).toContain(`written ${join(out, 'linear')}.csv`);
  });
});

// The `sieve` command line end to end, as a child process on the compiled build: run (cache hits,
// --json, failures, -p typing), status, gc, dag and show.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lockfilePath } from '../../src/runtime/results/lockfile.js';
import {
  PLUGINS_LINE, assertCliBuilt, clearLog, executionCounts, jsonLines, linearPipeline, lockfileOf, makeTempDir,
  objectFiles, removeTempDirs, runCli, statusesFromJson, writePipeline,
} from '../helpers/runtime.js';

beforeAll(assertCliBuilt);
afterEach(removeTempDirs);

async function setup(yaml = linearPipeline(), fileName = 'pipeline.yaml') {
  const dir = await makeTempDir();
  const pipeline = await writePipeline(dir, yaml, fileName);
  const cache = join(dir, 'cache');
  const log = join(dir, 'runs.log');
  const sieve = (...args: string[]) => runCli(args, { cwd: dir, log });
  return { dir, pipeline, cache, log, sieve };
}

describe('sieve run', () => {
  it('runs everything once, then everything is a cache hit; the lockfile sits next to the pipeline', async () => {
    const t = await setup(linearPipeline({ name: 'first' }), 'experiment.yaml');
    const first = await t.sieve('run', t.pipeline, '--cache', t.cache, '--json');
    expect(first.exitCode).toBe(0);
    expect(statusesFromJson(first.stdout)).toEqual({ src: 'ran', scaled: 'ran', m: 'ran' });
    expect(await executionCounts(t.log)).toEqual({ src: 1, scaled: 1, m: 1 });
    expect(existsSync(join(t.dir, 'experiment.lock'))).toBe(true);
    const lock = await lockfileOf(t.pipeline);
    expect(lock.pipeline).toBe('first');
    expect(Object.keys(lock.points.default.nodes).sort()).toEqual(['m', 'scaled', 'src']);

    await clearLog(t.log);
    const second = await t.sieve('run', t.pipeline, '--cache', t.cache, '--json');
    expect(second.exitCode).toBe(0);
    expect(statusesFromJson(second.stdout)).toEqual({ src: 'cached', scaled: 'cached', m: 'cached' });
    expect(await executionCounts(t.log)).toEqual({});
  });

  it('--json: every line is JSON; node lines carry node, type, points, status, ms, key, outputs; the last is the summary', async () => {
    const t = await setup();
    for (const expected of ['ran', 'cached']) {
      const r = await t.sieve('run', t.pipeline, '--cache', t.cache, '--json');
      expect(r.exitCode).toBe(0);
      const lines = jsonLines(r.stdout); // throws on a line that is not JSON
      expect(lines[0]).toMatchObject({ event: 'run-start', pipeline: 'linear', points: ['default'], nodes: 3 });
      const nodes = lines.filter((l) => l.event === 'node');
      expect(nodes.map((n) => n.node).sort()).toEqual(['m', 'scaled', 'src']);
      for (const n of nodes) {
        expect(n).toMatchObject({
          type: expect.stringMatching(/^test-/), points: ['default'], status: expected,
          ms: expect.any(Number), key: expect.stringMatching(/^[0-9a-f]{64}$/),
        });
        const outputs = n.outputs as Record<string, string>;
        expect(Object.keys(outputs).length).toBe(1);
        for (const h of Object.values(outputs)) expect(h).toMatch(/^[0-9a-f]{64}$/);
      }
      expect(nodes.find((n) => n.node === 'm')!.outputs).toHaveProperty('metrics');
      const last = lines[lines.length - 1];
      expect(last).toMatchObject({
        event: 'summary', pipeline: 'linear', ok: true,
        counts: { ran: expected === 'ran' ? 3 : 0, cached: expected === 'cached' ? 3 : 0, failed: 0, skipped: 0 },
      });
    }
  });

  it('-p values are typed by the param schema: numbers become numbers, string params stay strings', async () => {
    const t = await setup();
    const r = await t.sieve('run', t.pipeline, '--cache', t.cache, '-p', 'src.value=3', '-p', 'scaled.label=123', '-p', 'scaled.factor=0.5');
    expect(r.exitCode).toBe(0);
    // Every -p is part of the point's id (sorted by path).
    const nodes = (await lockfileOf(t.pipeline)).points['scaled.factor=0.5,scaled.label=123,src.value=3'].nodes;
    expect(nodes.src.params.value).toBe(3);
    expect(nodes.scaled.params.label).toBe('123');
    expect(nodes.scaled.params.factor).toBe(0.5);
  });

  it('a failing node: its message and id are reported, descendants skipped, an independent branch completes and stays cached, exit 1', async () => {
    const t = await setup([
      'name: failing',
      PLUGINS_LINE,
      'nodes:',
      '  src: { type: test-source }',
      '  bad: { type: test-fail, inputs: { x: src }, params: { message: "kaput 42" } }',
      '  after: { type: test-scale, inputs: { x: bad } }',
      '  afterM: { type: test-metrics, inputs: { x: after } }',
      '  side: { type: test-scale, inputs: { x: src } }',
      '  sideM: { type: test-metrics, inputs: { x: side } }',
      '',
    ].join('\n'));
    const r = await t.sieve('run', t.pipeline, '--cache', t.cache);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('✗ bad (test-fail) failed: kaput 42');
    expect(r.stdout).toContain('- after (test-scale) skipped: input x comes from bad, which failed');
    expect(r.stdout).toContain('- afterM (test-metrics) skipped: input x comes from after, which was skipped');
    expect(r.stdout).toContain('failed: 3 ran, 0 cached, 1 failed, 2 skipped');
    expect(r.stdout).toMatch(/^✗ bad: kaput 42$/m);
    expect(await executionCounts(t.log)).toEqual({ src: 1, bad: 1, side: 1, sideM: 1 });

    await clearLog(t.log);
    const again = await t.sieve('run', t.pipeline, '--cache', t.cache, '--json');
    expect(again.exitCode).toBe(1);
    expect(statusesFromJson(again.stdout)).toEqual({ src: 'cached', bad: 'failed', after: 'skipped', afterM: 'skipped', side: 'cached', sideM: 'cached' });
    const badLine = jsonLines(again.stdout).find((l) => l.event === 'node' && l.node === 'bad')!;
    expect(badLine.error).toBe('kaput 42');
    expect(await executionCounts(t.log)).toEqual({ bad: 1 }); // failures are not cached; the side branch is
    const summary = jsonLines(again.stdout).at(-1)!;
    expect(summary).toMatchObject({ event: 'summary', ok: false, failures: [{ nodeId: 'bad', error: 'kaput 42' }] });
  });
});

describe('the no-op rerun path', () => {
  it('a rerun takes the plan from the plan cache, leaves the lockfile untouched, and an edit still plans and validates', async () => {
    const t = await setup();
    expect((await t.sieve('run', t.pipeline, '--cache', t.cache)).exitCode).toBe(0);
    const plans = join(t.cache, 'state', 'plans');
    expect(readdirSync(plans)).toHaveLength(1);
    const lockPath = join(t.dir, 'pipeline.lock');
    const before = statSync(lockPath);

    await clearLog(t.log);
    const again = await t.sieve('run', t.pipeline, '--cache', t.cache, '--json');
    expect(statusesFromJson(again.stdout)).toEqual({ src: 'cached', scaled: 'cached', m: 'cached' });
    expect(await executionCounts(t.log)).toEqual({});
    expect(readdirSync(plans)).toHaveLength(1);
    expect(statSync(lockPath).mtimeMs).toBe(before.mtimeMs);

    // The memo is keyed by the text: an invalid edit is reported as ever, file, line and field.
    await writeFile(t.pipeline, linearPipeline().replace('factor: 3', 'factor: three'));
    const bad = await t.sieve('run', t.pipeline, '--cache', t.cache);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`${t.pipeline}:11:`);
    expect(bad.stderr).toContain('nodes.scaled.params.factor');
    // A valid edit plans again; only what it changed runs.
    await writeFile(t.pipeline, linearPipeline({ factor: 5 }));
    const edited = await t.sieve('run', t.pipeline, '--cache', t.cache, '--json');
    expect(statusesFromJson(edited.stdout)).toEqual({ src: 'cached', scaled: 'ran', m: 'ran' });
    expect(readdirSync(plans)).toHaveLength(2);
  });

  it('commands that only read a pipeline create no cache directory', async () => {
    const t = await setup();
    expect((await t.sieve('dag', t.pipeline)).exitCode).toBe(0);
    expect((await t.sieve('status', t.pipeline)).exitCode).toBe(0);
    expect(existsSync(join(t.dir, 'artifacts'))).toBe(false);
  });
});

describe('sieve status', () => {
  it('says which param changed and which inputs come from stale nodes; then that everything is up to date', async () => {
    const t = await setup();
    expect((await t.sieve('run', t.pipeline, '--cache', t.cache)).exitCode).toBe(0);

    const clean = await t.sieve('status', t.pipeline, '--cache', t.cache);
    expect(clean.exitCode).toBe(0);
    expect(clean.stdout).toContain('everything is up to date');

    const changed = await t.sieve('status', t.pipeline, '--cache', t.cache, '-p', 'scaled.factor=5');
    expect(changed.exitCode).toBe(0);
    expect(changed.stdout.split('\n')).toEqual([
      'src: up to date',
      'scaled: stale',
      '    param factor: 3 → 5',
      'm: stale',
      '    input x comes from scaled, which will run first',
      '2 of 3 node(s) would run',
    ]);

    const json = await t.sieve('status', t.pipeline, '--cache', t.cache, '-p', 'scaled.factor=5', '--json');
    const lines = JSON.parse(json.stdout) as { nodeId: string; state: string; reasons: string[] }[];
    expect(lines.map(({ nodeId, state, reasons }) => ({ nodeId, state, reasons }))).toEqual([
      { nodeId: 'src', state: 'up-to-date', reasons: [] },
      { nodeId: 'scaled', state: 'stale', reasons: ['param factor: 3 → 5'] },
      { nodeId: 'm', state: 'stale', reasons: ['input x comes from scaled, which will run first'] },
    ]);

    expect((await t.sieve('run', t.pipeline, '--cache', t.cache, '-p', 'scaled.factor=5')).exitCode).toBe(0);
    const after = await t.sieve('status', t.pipeline, '--cache', t.cache, '-p', 'scaled.factor=5', '--json');
    expect((JSON.parse(after.stdout) as { state: string }[]).map((l) => l.state)).toEqual(['up-to-date', 'up-to-date', 'up-to-date']);
    const afterText = await t.sieve('status', t.pipeline, '--cache', t.cache, '-p', 'scaled.factor=5');
    expect(afterText.stdout).toContain('everything is up to date');
  });
});

describe('sieve gc', () => {
  it('removes what no lockfile or run record refers to, and the current pipeline stays cached', async () => {
    const t = await setup();
    expect((await t.sieve('run', t.pipeline, '--cache', t.cache)).exitCode).toBe(0);
    expect((await t.sieve('run', t.pipeline, '--cache', t.cache, '-p', 'scaled.factor=5')).exitCode).toBe(0);
    // The lockfile keeps both points; src's output is shared.
    const before = (await objectFiles(t.cache)).map((o) => o.hash).sort();
    expect(before).toHaveLength(5);
    expect((await t.sieve('gc', '--cache', t.cache, '--dry-run')).stdout).toMatch(/^would remove 0 object\(s\)/);
    // Dropping the first run's point from the lockfile leaves its scaled and m outputs unreferenced.
    const lock = JSON.parse(await readFile(lockfilePath(t.pipeline), 'utf8')) as { points: Record<string, unknown> };
    delete lock.points.default;
    await writeFile(lockfilePath(t.pipeline), JSON.stringify(lock));

    const dry = await t.sieve('gc', '--cache', t.cache, '--dry-run');
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toMatch(/^would remove 2 object\(s\) \(\d+ B\) and 2 action record\(s\); kept 3 object\(s\)/);
    expect((await objectFiles(t.cache)).map((o) => o.hash).sort()).toEqual(before);

    const gc = await t.sieve('gc', '--cache', t.cache);
    expect(gc.exitCode).toBe(0);
    expect(gc.stdout).toMatch(/^removed 2 object\(s\) \(\d+ B\) and 2 action record\(s\); kept 3 object\(s\)/);
    expect(await objectFiles(t.cache)).toHaveLength(3);

    await clearLog(t.log);
    const rerun = await t.sieve('run', t.pipeline, '--cache', t.cache, '-p', 'scaled.factor=5', '--json');
    expect(statusesFromJson(rerun.stdout)).toEqual({ src: 'cached', scaled: 'cached', m: 'cached' });
    expect(await executionCounts(t.log)).toEqual({});
    const nothing = await t.sieve('gc', '--cache', t.cache, '--dry-run');
    expect(nothing.stdout).toMatch(/^would remove 0 object\(s\)/);
  });
});

describe('sieve dag and show', () => {
  const DIAMOND = [
    'name: diamond',
    PLUGINS_LINE,
    'nodes:',
    '  src: { type: test-source, params: { n: 4, value: 1, step: 1 } }',
    '  left: { type: test-scale, inputs: { x: src }, params: { factor: 2 } }',
    '  right: { type: test-scale, inputs: { x: src.x }, params: { factor: -1 } }',
    '  both: { type: test-add, inputs: { a: left.y, b: right } }',
    '',
  ].join('\n');

  it('dag prints every node and edge, as text and as Mermaid', async () => {
    const t = await setup(DIAMOND);
    const text = await t.sieve('dag', t.pipeline);
    expect(text.exitCode).toBe(0);
    for (const line of ['src (test-source)', 'left (test-scale)  [x]', 'right (test-scale)  [x → x]', 'both (test-add)  [y → a]', 'both (test-add)  [b]']) {
      expect(text.stdout).toContain(line);
    }
    const mermaid = await t.sieve('dag', t.pipeline, '--mermaid');
    expect(mermaid.exitCode).toBe(0);
    const lines = mermaid.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('flowchart TD');
    for (const [id, type] of [['src', 'test-source'], ['left', 'test-scale'], ['right', 'test-scale'], ['both', 'test-add']]) {
      expect(lines).toContain(`  ${id}["${id}<br/><small>${type}</small>"]`);
    }
    const edges = lines.filter((l) => l.includes('-->')).sort();
    expect(edges).toEqual([
      '  left -->|"y → a"| both',
      '  right -->|"y → b"| both',
      '  src -->|"x → x"| left',
      '  src -->|"x → x"| right',
    ]);
  });

  it('dag --mermaid draws one edge per pair of nodes, with every port pair as its label', async () => {
    const t = await setup([
      'name: pairs', PLUGINS_LINE, 'nodes:',
      '  src: { type: test-source }',
      '  twice: { type: test-add, inputs: { a: src, b: src.x } }',
      '',
    ].join('\n'));
    const r = await t.sieve('dag', t.pipeline, '--mermaid');
    expect(r.stdout.split('\n').filter((l) => l.includes('-->'))).toEqual(['  src -->|"x → a<br/>x → b"| twice']);
  });

  it('show prints dtype, shape and statistics of a node output', async () => {
    const t = await setup(DIAMOND);
    expect((await t.sieve('run', t.pipeline, '--cache', t.cache)).exitCode).toBe(0);
    // left = 2 * [1, 2, 3, 4] = [2, 4, 6, 8]: mean 5, population std sqrt(5).
    const r = await t.sieve('show', 'left', t.pipeline, '--cache', t.cache);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^left \(test-scale v1\) at point default, key [0-9a-f]{12}, ran in /);
    expect(r.stdout).toMatch(/ {2}y: float32 \[4\], 88 B, [0-9a-f]{12}\n/);
    expect(r.stdout).toContain('min 2.000  max 8.000  mean 5.000  std 2.236');

    const json = await t.sieve('show', 'both', t.pipeline, '--cache', t.cache, '--json');
    const parsed = JSON.parse(json.stdout) as { outputs: { z: { dtype: string; shape: number[]; stats: Record<string, number> } } };
    // both = 2x - x = [1, 2, 3, 4]
    expect(parsed.outputs.z).toMatchObject({ dtype: 'float32', shape: [4], stats: { min: 1, max: 4, mean: 2.5, nonFinite: 0 } });

    const missing = await t.sieve('show', 'nosuch', t.pipeline, '--cache', t.cache);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('node "nosuch" has no record');
  });
});

// Validation: every problem of a pipeline (and of its command line) is reported in one run, each
// at its file:line:column, with exit code 2, before anything runs.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  TEST_PLUGIN, assertCliBuilt, executions, makeTempDir, objectFiles, removeTempDirs, runCli, writePipeline,
} from '../helpers/runtime.js';

beforeAll(assertCliBuilt);
afterEach(removeTempDirs);

// Line numbers matter: the assertions below name them.
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const BROKEN = `name: broken
plugins: [${JSON.stringify(TEST_PLUGIN)}]
nodes:
  src:
    type: test-source
  mystery:
    type: no-such-type
  extra:
    type: test-source
    params: { n: 2, bogus: 1 }
  wrongtype:
    type: test-scale
    inputs: { x: src }
    params: { factor: "three" }
  lonely:
    type: test-scale
  ghostread:
    type: test-scale
    inputs: { x: ghost.y }
  badport:
    type: test-scale
    inputs: { x: src.nope }
  twin:
    type: test-source
  twin:
    type: test-source
  a:
    type: test-scale
    inputs: { x: b }
  b:
    type: test-scale
    inputs: { x: a }
  ints:
    type: command
    params:
      run: "true"
      outputs: { y: { kind: tensor, dtype: int32, rank: 2 } }
  consumer:
    type: test-scale
    inputs: { x: ints.y }
  tuned:
    type: test-scale
    inputs: { x: src }
  usesMystery:
    type: test-scale
    inputs: { x: mystery }
`;

describe('validation errors', () => {
  it('reports every problem with its location in one run, exit 2, and runs nothing', async () => {
    const dir = await makeTempDir();
    const file = await writePipeline(dir, BROKEN, 'broken.yaml');
    const cache = join(dir, 'cache');
    const log = join(dir, 'runs.log');
    const r = await runCli(['run', file, '--cache', cache, '-p', 'tuned.factor=abc', '-p', 'nosuch.factor=1'], { cwd: dir, log });
    expect(r.exitCode).toBe(2);
    const lines = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
    expect(lines[0]).toBe('error: 11 problems in the pipeline:');
    const at = (line: number, column: number, rest: string): string => `${file}:${line}:${column}: ${rest}`;
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^${escape(at(7, 11, 'nodes.mystery.type: unknown node type "no-such-type" (known: '))}.*\\btest-add, test-big, test-fail, test-metrics, test-scale, test-source, test-spin\\b`)),
      at(10, 21, 'nodes.extra.params.bogus: unknown field "bogus" (known: n, value, step, jitter, delay_ms)'),
      at(14, 23, 'nodes.wrongtype.params.factor: expected number, got string "three"'),
      at(15, 3, 'nodes.lonely: missing input "x" (tensor float32 rank 1)'),
      at(19, 18, 'nodes.ghostread.inputs.x: "ghost.y" names no node in this pipeline (nodes: src, mystery, extra, wrongtype, lonely, ghostread, badport, twin, a, b, ints, consumer, tuned, usesMystery)'),
      at(22, 18, 'nodes.badport.inputs.x: node "src" has no output "nope" (outputs: x)'),
      at(25, 3, 'twin: duplicate key "twin" (a node id or field appears twice)'),
      at(29, 13, 'nodes.a.inputs: cycle: a → b → a'),
      at(40, 18, 'nodes.consumer.inputs.x: input "x" expects tensor float32 rank 1, but ints.y is tensor int32 rank 2'),
      expect.stringContaining('command line: nosuch.factor (from -p nosuch.factor=1): no node "nosuch" in this pipeline (nodes: src, '),
      'command line: nodes.tuned.params.factor (from -p tuned.factor=abc): expected number, got string "abc"',
    ]);
    // usesMystery reads from a node whose type is unknown: that node's error is enough, no second one.
    expect(r.stderr).not.toContain('nodes.usesMystery');
    expect(await executions(log)).toEqual([]);
    expect(await objectFiles(cache)).toEqual([]);
    expect(existsSync(join(dir, 'broken.lock'))).toBe(false);
  });

  it('a bad value in a file sweep is located at its sweep key', async () => {
    const dir = await makeTempDir();
    const file = await writePipeline(dir, [
      'name: badsweep',
      `plugins: [${JSON.stringify(TEST_PLUGIN)}]`,
      'nodes:',
      '  src: { type: test-source }',
      'sweep:',
      '  grid:',
      '    src.n: [1, "x"]',
      '',
    ].join('\n'));
    const r = await runCli(['run', file, '--cache', join(dir, 'cache')], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${file}:7:5: sweep.grid.src.n: expected integer, got string "x"`);
  });
});

describe('plugins', () => {
  it('an unknown plugin path in the pipeline is an error naming it', async () => {
    const dir = await makeTempDir();
    const file = await writePipeline(dir, ['name: p', 'plugins: ["./no-such-plugin.mjs"]', 'nodes:', '  c: { type: command, params: { run: "true", outputs: {} } }', ''].join('\n'));
    const r = await runCli(['run', file, '--cache', join(dir, 'cache')], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${file}:2:11: plugins.0: cannot load plugin ./no-such-plugin.mjs`);
  });

  it('an unknown --plugin module is an error naming it', async () => {
    const dir = await makeTempDir();
    const file = await writePipeline(dir, ['name: p', 'nodes:', '  c: { type: command, params: { run: "true", outputs: {} } }', ''].join('\n'));
    const r = await runCli(['run', file, '--cache', join(dir, 'cache'), '--plugin', './missing/nodes.mjs'], { cwd: dir });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('cannot load plugin ./missing/nodes.mjs');
  });

  it('a module that exports no node type is refused with its name', async () => {
    const dir = await makeTempDir();
    await writeFile(join(dir, 'not-nodes.mjs'), 'export default { hello: 1 };\n');
    const file = await writePipeline(dir, ['name: p', 'plugins: [./not-nodes.mjs]', 'nodes:', '  c: { type: command, params: { run: "true", outputs: {} } }', ''].join('\n'));
    const r = await runCli(['run', file, '--cache', join(dir, 'cache')], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('plugin ./not-nodes.mjs: default export must be a node type or an array of them');
  });
});

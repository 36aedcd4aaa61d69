// Day-one errors: the nearest valid name for node types, ports, params and -p paths; -p with
// several values points to --grid; --grid errors are located on the command line; a missing
// pipeline file says so; with --json the failure is JSON too.
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PLUGINS_LINE, assertCliBuilt, makeTempDir, removeTempDirs, runCli, writePipeline } from '../helpers/runtime.js';

beforeAll(assertCliBuilt);
afterEach(removeTempDirs);

const GOOD = ['name: ok', PLUGINS_LINE, 'nodes:', '  src: { type: test-source }', '  scaled: { type: test-scale, inputs: { x: src } }', 'sweep:', '  grid:', '    scaled.factor: [1, 2]', ''].join('\n');

async function setup(yaml = GOOD) {
  const dir = await makeTempDir();
  const file = await writePipeline(dir, yaml);
  const sieve = (...args: string[]) => runCli([...args, '--cache', join(dir, 'cache')], { cwd: dir });
  return { dir, file, sieve };
}

describe('error messages', () => {
  it('suggest the nearest node type, input port, output port and param', async () => {
    const t = await setup(['name: typos', PLUGINS_LINE, 'nodes:',
      '  src: { type: test-sorce }',
      '  other: { type: test-source, params: { stepp: 1 } }',
      '  scaled: { type: test-scale, inputs: { xx: other } }',
      '  m: { type: test-metrics, inputs: { x: scaled.yy } }',
      '  n: { type: test-metrics, inputs: { x: scaeld.y } }', ''].join('\n'));
    const r = await t.sieve('run', t.file);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${t.file}:4:16: nodes.src.type: unknown node type "test-sorce": did you mean \`test-source\`?`);
    expect(r.stderr).toContain('nodes.other.params.stepp: unknown field "stepp": did you mean `step`?');
    expect(r.stderr).toContain('nodes.scaled.inputs.xx: unknown input "xx" for test-scale: did you mean `x`?');
    expect(r.stderr).toContain('nodes.m.inputs.x: node "scaled" has no output "yy": did you mean `y`?');
    expect(r.stderr).toContain('nodes.n.inputs.x: "scaeld.y" names no node in this pipeline: did you mean `scaled`?');
  });

  it('-p: the nearest node and param; several values point to --grid', async () => {
    const t = await setup();
    const node = await t.sieve('run', t.file, '-p', 'scaeld.factor=3');
    expect(node.exitCode).toBe(2);
    expect(node.stderr).toContain('command line: scaeld.factor (from -p scaeld.factor=3): no node "scaeld" in this pipeline: did you mean `scaled`?');
    const param = await t.sieve('run', t.file, '-p', 'scaled.factr=3');
    expect(param.stderr).toContain('(from -p scaled.factr=3): unknown field "factr": did you mean `factor`?');
    const only = await t.sieve('run', t.file, '--only', 'scaeld');
    expect(only.exitCode).toBe(2);
    expect(only.stderr).toContain('--only names unknown node(s): scaeld: did you mean `scaled`?');
    const list = await t.sieve('run', t.file, '--no-sweep', '-p', 'scaled.factor=0.3,0.4');
    expect(list.exitCode).toBe(2);
    expect(list.stderr).toContain('expected number, got string "0.3,0.4"; to run several values, use --grid scaled.factor=0.3,0.4');
  });

  it('--grid problems are located on the command line, not at the sweep section of the file', async () => {
    const t = await setup();
    const r = await t.sieve('run', t.file, '--grid', 'scaled.factor=1,abc');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('command line: nodes.scaled.params.factor (from --grid scaled.factor=1,abc): expected number, got string "abc"');
    expect(r.stderr).not.toContain(`${t.file}:`);
    const typo = await t.sieve('run', t.file, '--grid', 'scaled.factr=1,2');
    expect(typo.stderr).toContain('command line: nodes.scaled.params.factr (from --grid scaled.factr=1,2): unknown field "factr": did you mean `factor`?');
  });

  it('a missing pipeline file says so, and names a near one beside it', async () => {
    const t = await setup();
    const missing = await t.sieve('status', join(t.dir, 'nothing-like-it.yaml'));
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toBe(`error: no such pipeline file: ${join(t.dir, 'nothing-like-it.yaml')}`);
    const near = await t.sieve('run', join(t.dir, 'pipelin.yaml'));
    expect(near.stderr).toContain(`no such pipeline file: ${join(t.dir, 'pipelin.yaml')} (did you mean ${t.file}?)`);
  });

  it('with --json, validation errors are one JSON line with every located problem', async () => {
    const t = await setup(['name: typos', PLUGINS_LINE, 'nodes:', '  src: { type: test-sorce }', ''].join('\n'));
    for (const cmd of ['run', 'status']) {
      const r = await t.sieve(cmd, t.file, '--json');
      expect(r.exitCode).toBe(2);
      const line = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(line).toMatchObject({
        event: 'error', exitCode: 2,
        problems: [{ file: t.file, line: 4, column: 16, field: 'nodes.src.type', message: expect.stringContaining('did you mean `test-source`?') }],
      });
    }
    const missing = await t.sieve('run', join(t.dir, 'none.yaml'), '--json');
    expect(JSON.parse(missing.stdout)).toEqual({ event: 'error', exitCode: 2, message: `no such pipeline file: ${join(t.dir, 'none.yaml')}` });
  });
});

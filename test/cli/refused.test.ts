// Every bad input is refused before anything runs: exit 2, located as file:line:column, the cache
// untouched, no stack trace. (YAML resource limits and merges, invalid UTF-8, non-finite and
// oversized numbers, param combinations and external files a node type checks when planning,
// malformed sweep axes, and grids over the point limit.)
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/nodes/index.js';
import { PLUGINS_LINE, assertCliBuilt, makeTempDir, removeTempDirs, runCli } from '../helpers/runtime.js';

beforeAll(assertCliBuilt);
afterAll(removeTempDirs);

const STACK = /^\s+at .+[:(]\d+/m;

interface Case {
  name: string;
  yaml: string | Buffer;
  args?: string[];
  env?: Record<string, string>;
  expect: RegExp;
}

const synthetic = (extra: string): string => `name: p\nnodes:\n  data:\n    type: load\n    params: { source: synthetic, ${extra} }\n`;

const CASES: Case[] = [
  {
    name: 'a billion-laughs alias bomb',
    yaml: ['name: p', 'a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`), 'nodes: {}', ''].join('\n'),
    expect: /pipeline\.yaml:3:\d+: aliases expand to more than 10000 nodes \(a "billion laughs" document\?\): refused/,
  },
  {
    name: 'a merge of an undefined anchor',
    yaml: 'name: p\nnodes:\n  a:\n    <<: *undefined\n    type: load\n',
    expect: /pipeline\.yaml:4:9: unknown anchor \*undefined \(no &undefined before it\)/,
  },
  {
    name: 'a merge of a scalar',
    yaml: 'name: p\nx: &x 3\nnodes:\n  a:\n    <<: *x\n    type: load\n',
    expect: /pipeline\.yaml:5:\d+: .*[Mm]erge .*maps?/,
  },
  {
    name: 'invalid UTF-8',
    yaml: Buffer.concat([Buffer.from('name: p\nnodes:\n  d'), Buffer.from([0xff, 0xfe]), Buffer.from('ata: { type: load }\n')]),
    expect: /pipeline\.yaml:3:4: invalid UTF-8 \(byte 0xff\): a pipeline must be UTF-8 text/,
  },
  { name: 'an integer of 1e400', yaml: synthetic('dim: 1e400'), expect: /pipeline\.yaml:5:\d+: nodes\.data\.params\.dim: \.inf is not a finite number/ },
  { name: '.inf for a number', yaml: synthetic('zero_shot_accuracy: .inf'), expect: /nodes\.data\.params\.zero_shot_accuracy: \.inf is not a finite number/ },
  { name: '.nan in a free-form param', yaml: `name: p\nnodes:\n  c: { type: command, params: { run: "true", outputs: {}, env: { X: .nan } } }\n`, expect: /nodes\.c\.params\.env\.X: \.nan is not a finite number/ },
  { name: '-p with .inf', yaml: synthetic('dim: 8'), args: ['-p', 'data.zero_shot_accuracy=.inf'], expect: /command line: nodes\.data\.params\.zero_shot_accuracy \(from -p data\.zero_shot_accuracy=\.inf\): expected number, got \.inf \(not a finite number\)/ },
  { name: 'a size over its maximum', yaml: synthetic('train_per_class: 1e26'), expect: /nodes\.data\.params\.train_per_class: must be <= 1000000/ },
  { name: 'synthetic data too large for a tensor', yaml: synthetic('num_classes: 100000, train_per_class: 1000, dim: 4096'), expect: /nodes\.data\.params\.train_per_class: synthetic: 100000 classes × 1100 samples × 4096 dimensions .* more than one tensor holds/ },
  { name: 'synthetic load with a path', yaml: synthetic('path: data/'), expect: /pipeline\.yaml:5:\d+: nodes\.data\.params\.path: source "synthetic" reads no files; remove "path"/ },
  {
    name: 'num_classes: 3 with the default lookalike_pairs: 2',
    yaml: synthetic('num_classes: 3'),
    expect: /nodes\.data\.params\.num_classes: synthetic: lookalike_pairs must be an integer in \[0, 1\] .*got 2 \(lookalike_pairs is 2, its default\)/,
  },
  {
    name: 'a command placeholder naming an undeclared output',
    yaml: 'name: p\nnodes:\n  c:\n    type: command\n    params:\n      run: echo hi > {outputs.x}\n      outputs: { y: { kind: json } }\n',
    expect: /pipeline\.yaml:6:12: nodes\.c\.params\.run: \{outputs\.x\}: no output "x" is declared under outputs \(declared: y\)/,
  },
  {
    name: 'a deps file that does not exist',
    yaml: 'name: p\nnodes:\n  c:\n    type: command\n    params:\n      run: python3 train.py\n      deps: [train.py]\n      outputs: {}\n',
    expect: /pipeline\.yaml:7:\d+: nodes\.c\.params\.deps\.0: .*\/train\.py does not exist/,
  },
  {
    name: 'a directory given as a deps file',
    yaml: 'name: p\nnodes:\n  c:\n    type: command\n    params:\n      run: "true"\n      deps: [adir]\n      outputs: {}\n',
    expect: /nodes\.c\.params\.deps\.0: .*\/adir is a directory, not a file/,
  },
  { name: 'a data directory that does not exist', yaml: 'name: p\nnodes:\n  d: { type: load, params: { source: mnist, path: no/such/mnist } }\n', expect: /nodes\.d\.params\.path: .*\/no\/such\/mnist does not exist/ },
  { name: 'a file where a directory is expected', yaml: 'name: p\nnodes:\n  d: { type: load, params: { source: image-folder, path: afile } }\n', expect: /nodes\.d\.params\.path: .*\/afile is a file, but source "image-folder" expects a directory here/ },
  {
    name: 'a sweep axis that is not a list',
    yaml: `name: p\n${PLUGINS_LINE}\nnodes:\n  s: { type: test-source }\nsweep:\n  grid:\n    s.n: 4\n`,
    expect: /pipeline\.yaml:7:\d+: sweep\.grid\.s\.n: expected array, got number 4/,
  },
  {
    name: 'a grid over the point limit',
    yaml: `name: p\n${PLUGINS_LINE}\nnodes:\n  s: { type: test-source }\nsweep:\n  grid:\n    s.n: [1, 2, 3, 4]\n    s.value: [1, 2, 3, 4]\n`,
    env: { SIEVE_MAX_POINTS: '10' },
    expect: /pipeline\.yaml:5:1: sweep: the sweep has 16 points, more than the limit of 10 \(set \$SIEVE_MAX_POINTS to allow more\)/,
  },
];

describe('bad inputs are refused before anything runs', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const dir = await makeTempDir('sieve-refused-');
      await writeFile(join(dir, 'pipeline.yaml'), c.yaml);
      await writeFile(join(dir, 'afile'), 'x');
      await mkdir(join(dir, 'adir'));
      const r = await runCli(['run', 'pipeline.yaml', '--cache', 'cache', ...(c.args ?? [])], { cwd: dir, env: c.env });
      expect(r.stderr).toMatch(c.expect);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).not.toMatch(STACK);
      expect(r.stderr).not.toMatch(/is not a function|Cannot read properties|Invalid typed array length/);
      expect(existsSync(join(dir, 'cache'))).toBe(false);
      expect(existsSync(join(dir, 'pipeline.lock'))).toBe(false);
    });
  }
});

describe('size params', () => {
  it('every integer param of every built-in node type has a maximum', async () => {
    const registry = builtinRegistry();
    await registry.loadAll();
    const missing: string[] = [];
    const walk = (schema: unknown, at: string): void => {
      if (schema === null || typeof schema !== 'object') return;
      const s = schema as Record<string, unknown>;
      if (s.type === 'integer' && typeof s.maximum !== 'number') missing.push(at);
      for (const [k, v] of Object.entries(s)) {
        if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${at}.${k}[${i}]`));
        else if (typeof v === 'object') walk(v, `${at}.${k}`);
      }
    };
    for (const t of registry.types()) walk(registry.get(t)!.node.paramsSchema, t);
    expect(missing).toEqual([]);
  });
});

// The `command` node: scripts in other languages read their inputs as safetensors/JSON files and
// write their declared outputs; the files listed in `deps` are part of the key.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeArtifact } from '../../src/runtime/store/artifact.js';
import type { Tensor } from '../../src/runtime/tensor.js';
import {
  PLUGINS_LINE, clearLog, endOf, executionCounts, makeTempDir, removeTempDirs, runInProcess, statuses, writePipeline,
} from '../helpers/runtime.js';

afterEach(removeTempDirs);

// A Node script with its own tiny safetensors reader and writer: y = x * FACTOR. It logs its
// execution like the test node types do.
const doubleScript = (factor: number): string => `
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
const FACTOR = ${factor};
const [inPath, outPath] = process.argv.slice(2);
const raw = readFileSync(inPath);
const headerLen = Number(raw.readBigUInt64LE(0));
const entry = JSON.parse(raw.subarray(8, 8 + headerLen).toString('utf8')).data;
const [begin, end] = entry.data_offsets;
const body = raw.subarray(8 + headerLen + begin, 8 + headerLen + end);
const x = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
const y = x.map((v) => v * FACTOR);
const header = Buffer.from(JSON.stringify({ y: { dtype: 'F32', shape: entry.shape, data_offsets: [0, y.byteLength] } }));
const len = Buffer.alloc(8);
len.writeBigUInt64LE(BigInt(header.length));
writeFileSync(outPath, Buffer.concat([len, header, Buffer.from(y.buffer)]));
if (process.env.SIEVE_TEST_LOG) appendFileSync(process.env.SIEVE_TEST_LOG, process.env.SIEVE_NODE + '\\n');
`;

const PIPELINE = [
  'name: commands',
  PLUGINS_LINE,
  'nodes:',
  '  src: { type: test-source, params: { n: 4, value: 1, step: 1 } }',
  '  doubled:',
  '    type: command',
  '    inputs: { x: src }',
  '    params:',
  '      run: node double.mjs {inputs.x} {outputs.y}',
  '      deps: [double.mjs]',
  '      outputs: { y: { kind: tensor, dtype: float32, rank: 1 } }',
  '  m: { type: test-metrics, inputs: { x: doubled.y } }',
  '  summary:',
  '    type: command',
  '    inputs: { x: doubled }',
  '    params:',
  '      run: |',
  '        node -e \'const fs = require("fs"); const raw = fs.readFileSync(process.argv[1]);',
  '        const n = Number(raw.readBigUInt64LE(0)); const e = JSON.parse(raw.subarray(8, 8 + n)).data;',
  '        const b = raw.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]);',
  '        let s = 0; for (let i = 0; i < b.length; i += 4) s += b.readFloatLE(i);',
  '        fs.writeFileSync(process.argv[2], JSON.stringify({ sum: s, shape: e.shape, dtype: e.dtype }));',
  '        fs.appendFileSync(process.env.SIEVE_TEST_LOG, "summary\\n")\' {inputs.x} {outputs.s}',
  '      outputs: { s: { kind: json } }',
  '  side: { type: test-scale, inputs: { x: src } }',
  '',
].join('\n');

async function setup(yaml: string) {
  const dir = await makeTempDir();
  const pipeline = await writePipeline(dir, yaml);
  return { dir, pipeline, cache: join(dir, 'cache'), log: join(dir, 'runs.log') };
}

const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'pass'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('command node', () => {
  it('runs scripts that read safetensors inputs and write safetensors/JSON outputs; editing a dep reruns only it and its descendants', async () => {
    const t = await setup(PIPELINE);
    await writeFile(join(t.dir, 'double.mjs'), doubleScript(2));
    const first = await runInProcess(t.pipeline, { cache: t.cache, log: t.log });
    expect(first.result.summary.ok, JSON.stringify(first.result.summary.failures)).toBe(true);
    const y = decodeArtifact({ kind: 'tensor' }, await first.store.read(endOf(first.events, 'doubled').record!.outputs.y)) as Tensor;
    expect(y.dtype).toBe('float32');
    expect(Array.from(y.data as Float32Array)).toEqual([2, 4, 6, 8]);
    const s = decodeArtifact({ kind: 'json' }, await first.store.read(endOf(first.events, 'summary').record!.outputs.s));
    expect(s).toEqual({ sum: 20, shape: [4], dtype: 'F32' });
    expect(await executionCounts(t.log)).toEqual({ src: 1, doubled: 1, m: 1, summary: 1, side: 1 });
    // The script is in the lockfile's record of the node, by content hash.
    expect(endOf(first.events, 'doubled').record!.deps).toEqual([
      { name: 'deps[0]', path: 'double.mjs', sha256: expect.stringMatching(/^[0-9a-f]{64}$/), size: expect.any(Number) },
    ]);

    await clearLog(t.log);
    const unchanged = await runInProcess(t.pipeline, { cache: t.cache, log: t.log });
    expect(new Set(Object.values(statuses(unchanged.events)))).toEqual(new Set(['cached']));
    expect(await executionCounts(t.log)).toEqual({});

    await writeFile(join(t.dir, 'double.mjs'), doubleScript(3));
    const edited = await runInProcess(t.pipeline, { cache: t.cache, log: t.log });
    expect(statuses(edited.events)).toEqual({ src: 'cached', doubled: 'ran', m: 'ran', summary: 'ran', side: 'cached' });
    expect(await executionCounts(t.log)).toEqual({ doubled: 1, m: 1, summary: 1 });
    const s3 = decodeArtifact({ kind: 'json' }, await edited.store.read(endOf(edited.events, 'summary').record!.outputs.s));
    expect(s3).toEqual({ sum: 30, shape: [4], dtype: 'F32' });
  });

  it.skipIf(!hasPython)('runs a python3 -c script with a standard-library safetensors reader', async () => {
    const t = await setup([
      'name: python',
      PLUGINS_LINE,
      'nodes:',
      '  src: { type: test-source, params: { n: 3, value: 0.5, step: 2 } }',
      '  py:',
      '    type: command',
      '    inputs: { x: src }',
      '    params:',
      '      run: |',
      "        python3 -c '",
      '        import json, struct, sys',
      '        raw = open(sys.argv[1], "rb").read()',
      '        (n,) = struct.unpack("<Q", raw[:8])',
      '        entry = json.loads(raw[8:8 + n])["data"]',
      '        a, b = entry["data_offsets"]',
      '        vals = struct.unpack("<%df" % entry["shape"][0], raw[8 + n + a:8 + n + b])',
      '        json.dump(dict(values=list(vals), total=sum(vals)), open(sys.argv[2], "w"))',
      "        ' {inputs.x} {outputs.stats}",
      '      outputs: { stats: { kind: json } }',
      '',
    ].join('\n'));
    const run = await runInProcess(t.pipeline, { cache: t.cache, log: t.log });
    expect(run.result.summary.ok, JSON.stringify(run.result.summary.failures)).toBe(true);
    const stats = decodeArtifact({ kind: 'json' }, await run.store.read(endOf(run.events, 'py').record!.outputs.stats));
    expect(stats).toEqual({ values: [0.5, 2.5, 4.5], total: 7.5 });
  });

  it('a non-zero exit fails the node with the tail of its stderr; a missing declared output fails naming it', async () => {
    const t = await setup([
      'name: failing-commands',
      PLUGINS_LINE,
      'nodes:',
      '  src: { type: test-source }',
      '  crashes:',
      '    type: command',
      '    inputs: { x: src }',
      '    params:',
      '      run: |',
      `        node -e 'console.error("loading"); console.error("something broke: code 7"); process.exit(3)'`,
      '      outputs: { y: { kind: json } }',
      '  after: { type: test-metrics, inputs: { x: lazy.result } }',
      '  lazy:',
      '    type: command',
      '    params:',
      '      run: |',
      `        node -e 'console.log("nothing written")'`,
      '      outputs: { result: { kind: tensor, dtype: float32, rank: 1 } }',
      '',
    ].join('\n'));
    const run = await runInProcess(t.pipeline, { cache: t.cache, log: t.log });
    expect(run.result.summary.ok).toBe(false);
    expect(statuses(run.events)).toEqual({ src: 'ran', crashes: 'failed', lazy: 'failed', after: 'skipped' });
    const crash = endOf(run.events, 'crashes').error!;
    expect(crash).toMatch(/^command exited with code 3: node -e /);
    const lines = crash.split('\n');
    expect(lines.slice(-4, -2)).toEqual(['loading', 'something broke: code 7']);
    // The scratch folder is kept, with the input files, so the printed command line can be rerun.
    expect(lines.at(-2)).toBe(`rerun it by hand: cd ${t.dir} && ${lines[0].replace(/^command exited with code 3: /, '')}`);
    const kept = /^scratch folder kept: (.+)$/.exec(lines.at(-1)!)![1];
    expect(kept.startsWith(join(t.cache, 'tmp'))).toBe(true);
    expect(existsSync(join(kept, 'in', 'x.safetensors'))).toBe(true);
    expect(endOf(run.events, 'lazy').error).toMatch(/^declared output "result" was not written \(expected .*result\.safetensors\)\nscratch folder kept: /);
    // Its stdout and stderr are in the log kept under its key.
    const key = endOf(run.events, 'crashes').key!;
    expect(await run.store.readLog(key)).toMatch(/^\$ node -e .*\nstderr: loading\nstderr: something broke: code 7\n$/s);
    expect(await run.store.readLog(endOf(run.events, 'lazy').key!)).toMatch(/\nnothing written\n$/);
    expect(run.result.summary.failures.map((f) => f.nodeId).sort()).toEqual(['crashes', 'lazy']);
  });
});

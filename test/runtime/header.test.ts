// The pipeline header (name, cache, jobs, remote, executor) has one reader, and the user config
// one too: the planner, the plan cache's peek and the sharing commands agree on what a file says.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/nodes/index.js';
import { UsageError } from '../../src/runtime/errors.js';
import { headerOf, peekCacheField, readPipelineHeader } from '../../src/runtime/planning/header.js';
import { loadPlan } from '../../src/runtime/planning/plan.js';
import { readUserConfig } from '../../src/runtime/user-config.js';
import { PLUGINS_LINE, assertCliBuilt, linearPipeline, makeTempDir, removeTempDirs, runCli, writePipeline } from '../helpers/runtime.js';

afterAll(removeTempDirs);

const header = [
  'name: h',
  'cache: "../shared cache" # a comment',
  'jobs: 3',
  'remote: {type: directory, path: ../remote}',
  'executor: {type: slurm, partition: gpu}',
].join('\n');

describe('pipeline header', () => {
  it('the planner, readPipelineHeader and peekCacheField read the same header', async () => {
    const dir = await makeTempDir();
    const body = linearPipeline().split('\n').filter((l) => !l.startsWith('name:')).join('\n');
    const path = await writePipeline(dir, `${header}\n${body}`);
    const want = {
      name: 'h', cache: '../shared cache', jobs: 3,
      remote: { type: 'directory', path: '../remote' }, executor: { type: 'slurm', partition: 'gpu' },
    };
    const read = await readPipelineHeader(path);
    expect(read).toEqual({ path, baseDir: dir, header: want });
    const plan = await loadPlan(path, { registry: builtinRegistry() });
    expect({ name: plan.file.name, cache: plan.file.cache, jobs: plan.file.jobs, remote: plan.file.remote, executor: plan.file.executor }).toEqual(want);
    expect(peekCacheField(`${header}\n${body}`)).toBe(want.cache);
    expect(headerOf({ nodes: {} })).toEqual({ name: 'pipeline' });
    expect(headerOf({ name: 'x', cache: 4, remote: 'nas', executor: [] })).toEqual({ name: 'x' });
  });

  it('readPipelineHeader: a header field of the wrong type is a usage error naming it, without planning', async () => {
    const dir = await makeTempDir();
    const cases: [string, RegExp][] = [
      ['remote: nas', /`remote` must be a mapping/],
      ['executor: slurm', /`executor` must be a mapping/],
      ['cache: [a]', /`cache` must be a directory path/],
      ['jobs: 0', /`jobs` must be a positive integer/],
      ['name: [unclosed', /not valid YAML/],
    ];
    for (const [line, message] of cases) {
      // A node type no registry knows: only the header is read.
      const path = await writePipeline(dir, `${line}\n${PLUGINS_LINE}\nnodes: {a: {type: not-a-type}}\n`);
      const read = readPipelineHeader(path);
      await expect(read).rejects.toThrow(UsageError);
      await expect(readPipelineHeader(path)).rejects.toThrow(message);
    }
    await expect(readPipelineHeader(join(dir, 'absent.yaml'))).rejects.toThrow(/cannot read pipeline/);
  });
});

describe('user config', () => {
  it('reads remotes, cache and executor from one file; an absent file is empty', async () => {
    const dir = await makeTempDir();
    const path = join(dir, 'config.yaml');
    await writeFile(path, 'remotes: {nas: {type: directory, path: /mnt/x}}\ndefault_remote: nas\ncache: sub/cache\nexecutor: {type: slurm, account: lab}\n');
    expect(await readUserConfig(path)).toEqual({
      path, remotes: { nas: { type: 'directory', path: '/mnt/x' } }, defaultRemote: 'nas', trustedRemotes: [],
      cache: join(dir, 'sub/cache'), executor: { type: 'slurm', account: 'lab' },
    });
    await writeFile(path, 'executor: {type: pbs}\n');
    await expect(readUserConfig(path)).rejects.toThrow(/executor.type must be one of local, slurm/);
    expect(await readUserConfig(join(dir, 'none.yaml'))).toEqual({ path: join(dir, 'none.yaml'), remotes: {}, trustedRemotes: [] });
  });
});

describe('the CLI reads the user config through the same reader', () => {
  it('`sieve run` takes `executor:` from the user config, and a bad one is a usage error naming the file', async () => {
    assertCliBuilt();
    const dir = await makeTempDir();
    const pipeline = await writePipeline(dir, linearPipeline());
    const config = join(dir, 'config.yaml');
    const env = { SIEVE_CONFIG: config };
    await writeFile(config, 'executor: {type: local}\n');
    const ok = await runCli(['run', pipeline, '--cache', join(dir, 'cache'), '--json'], { cwd: dir, env });
    expect(ok.exitCode, ok.stderr).toBe(0);
    await writeFile(config, 'executor: {type: pbs}\n');
    const bad = await runCli(['run', pipeline, '--cache', join(dir, 'cache')], { cwd: dir, env });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`${config}: executor.type must be one of local, slurm`);
  });
});

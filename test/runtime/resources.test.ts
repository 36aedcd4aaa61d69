// Resource hints: parsing Slurm's sizes and times, the pipeline's per-node override on top of the
// node type's declaration, and that hints never change a key.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../src/nodes/index.js';
import { ValidationError } from '../../src/runtime/errors.js';
import { runsInWorker } from '../../src/runtime/types/node-type.js';
import { checkResources, formatSlurmTime, memoryMb, mergeResources, timeMinutes } from '../../src/runtime/types/resources.js';
import { linearPipeline, makeTempDir, nodeEnds, planPipeline, removeTempDirs, runInProcess, writePipeline } from '../helpers/runtime.js';

afterEach(removeTempDirs);

describe('resource hints', () => {
  it('memory sizes: megabytes, K/M/G/T units, rounded up', () => {
    expect(memoryMb(512)).toBe(512);
    expect(memoryMb('512M')).toBe(512);
    expect(memoryMb('4G')).toBe(4096);
    expect(memoryMb('1.5g')).toBe(1536);
    expect(memoryMb('2048K')).toBe(2);
    expect(memoryMb('1T')).toBe(1024 * 1024);
    expect(memoryMb('100')).toBe(100);
    expect(() => memoryMb('lots')).toThrow(/not a size/);
    expect(() => memoryMb(0)).toThrow(/positive/);
  });

  it("wall time: minutes and Slurm's formats", () => {
    expect(timeMinutes(90)).toBe(90);
    expect(timeMinutes('30')).toBe(30);
    expect(timeMinutes('10:30')).toBe(11); // MM:SS, rounded up
    expect(timeMinutes('2:00:00')).toBe(120);
    expect(timeMinutes('1-12')).toBe(36 * 60);
    expect(timeMinutes('1-00:30')).toBe(24 * 60 + 30);
    expect(timeMinutes('2-01:00:00')).toBe(49 * 60);
    expect(() => timeMinutes('1h')).toThrow(/HH:MM:SS/);
    expect(formatSlurmTime(90)).toBe('01:30:00');
    expect(formatSlurmTime(49 * 60 + 5)).toBe('2-01:05:00');
  });

  it('the pipeline overrides the node type field by field', () => {
    expect(mergeResources({ cpus: 1, memory: '2G' }, { memory: '8G', gpus: 1 })).toEqual({ cpus: 1, memory: '8G', gpus: 1 });
    expect(mergeResources(undefined, undefined)).toEqual({});
    expect(checkResources({ cpus: 0, gpus: -1, memory: 'x', time: '1:2:3:4' })).toHaveLength(4);
  });

  it('every built-in compute node type declares valid hints and runs in a worker thread', async () => {
    const registry = builtinRegistry();
    await registry.loadAll();
    for (const type of ['load', 'noise-inject', 'embed', 'select', 'relabel', 'train', 'evaluate', 'prompt-tune']) {
      const node = registry.get(type)!.node;
      expect(node.resources, type).toBeDefined();
      expect(checkResources(node.resources!), type).toEqual([]);
      expect(runsInWorker(node), type).toBe(true);
    }
    // `command` spawns a process: it stays on the main thread.
    expect(runsInWorker(registry.get('command')!.node)).toBe(false);
  });

  it("a node's `resources:` reaches its planned instances and changes neither instance ids nor keys", async () => {
    const dir = await makeTempDir();
    const plain = await writePipeline(dir, linearPipeline(), 'plain.yaml');
    const hinted = await writePipeline(
      dir,
      linearPipeline().replace("    params: { factor: 3 }", "    params: { factor: 3 }\n    resources: { cpus: 2, memory: 3G, gpus: 1, time: '1:00:00' }"),
      'hinted.yaml',
    );
    const a = await runInProcess(plain, { cache: join(dir, 'cache'), lockfile: false });
    const b = await runInProcess(hinted, { cache: join(dir, 'cache'), lockfile: false });
    const scaled = [...b.plan.nodes.values()].find((n) => n.nodeId === 'scaled')!;
    expect(scaled.resources).toEqual({ cpus: 2, memory: '3G', gpus: 1, time: '1:00:00' });
    expect([...a.plan.nodes.keys()]).toEqual([...b.plan.nodes.keys()]);
    expect(nodeEnds(b.events).map((e) => e.status)).toEqual(['cached', 'cached', 'cached']);
    expect(nodeEnds(b.events).map((e) => e.key)).toEqual(nodeEnds(a.events).map((e) => e.key));
  });

  it('invalid hints are reported with their line', async () => {
    const dir = await makeTempDir();
    const path = await writePipeline(dir, linearPipeline().replace("    params: { factor: 3 }", "    params: { factor: 3 }\n    resources: { cpus: 0, memory: lots }"));
    const err = await planPipeline(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    const fields = (err as ValidationError).diagnostics.map((d) => `${d.line}:${d.field}`);
    expect(fields).toEqual(expect.arrayContaining(['12:nodes.scaled.resources.cpus', '12:nodes.scaled.resources.memory']));
  });
});

// Following a run without a terminal: a line per node start and end in a log, and with --json the
// progress events and a summary that carries every point's metrics.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PLUGINS_LINE, assertCliBuilt, jsonLines, makeTempDir, removeTempDirs, runCli, writePipeline } from '../helpers/runtime.js';

beforeAll(assertCliBuilt);
afterEach(removeTempDirs);

const PIPELINE = [
  'name: follow',
  'seed: 1',
  PLUGINS_LINE,
  'nodes:',
  '  src: {type: test-source, params: {n: 4}}',
  '  spin: {type: test-spin, inputs: {x: src}, params: {ms: 300}}',
  '  m: {type: test-metrics, inputs: {x: spin}}',
  '',
].join('\n');

describe('a run followed without a terminal', () => {
  it('prints a line when each node starts and when it ends', async () => {
    const dir = await makeTempDir();
    const pipeline = await writePipeline(dir, PIPELINE);
    const r = await runCli(['run', pipeline, '--cache', `${dir}/cache`], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^follow: 3 node\(s\), 1 point\(s\), \d+ job\(s\)$/);
    for (const id of ['src', 'spin', 'm']) {
      const start = lines.findIndex((l) => l.startsWith(`▶ ${id} (`) && l.endsWith('started'));
      const end = lines.findIndex((l) => l.startsWith(`✓ ${id} (`) && /ran in/.test(l));
      expect(start, id).toBeGreaterThan(0);
      expect(end, id).toBeGreaterThan(start);
    }
  });

  it('a heartbeat line with progress for a node still running ($SIEVE_HEARTBEAT_S sets the period)', async () => {
    const dir = await makeTempDir();
    const pipeline = await writePipeline(dir, PIPELINE.replace('ms: 300', 'ms: 2500'));
    const r = await runCli(['run', pipeline, '--cache', `${dir}/cache`], { cwd: dir, env: { SIEVE_HEARTBEAT_S: '1' } });
    expect(r.exitCode).toBe(0);
    const beats = r.stdout.split('\n').filter((l) => l.startsWith('  … spin (test-spin) '));
    expect(beats.length).toBeGreaterThanOrEqual(1);
    expect(beats.length).toBeLessThanOrEqual(3);
    expect(beats[0]).toMatch(/\d+% \d+\/2500 ms \d/);
  });

  it('--json: progress events, and a summary with the metrics of every point', async () => {
    const dir = await makeTempDir();
    const pipeline = await writePipeline(dir, `${PIPELINE}sweep:\n  grid:\n    m.offset: [0, 10]\n`);
    const r = await runCli(['run', pipeline, '--cache', `${dir}/cache`, '--json'], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const events = jsonLines(r.stdout);
    const progress = events.filter((e) => e.event === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) expect(p).toMatchObject({ node: 'spin', type: 'test-spin', points: ['m.offset=0', 'm.offset=10'], done: expect.any(Number), total: 300, unit: 'ms' });
    const summary = events.at(-1)!;
    expect(summary.event).toBe('summary');
    expect(summary.metrics).toEqual({
      'm.offset=0': { 'm.mean': 2, 'm.sum': 8 },
      'm.offset=10': { 'm.mean': 2, 'm.sum': 18 },
    });
  });
});

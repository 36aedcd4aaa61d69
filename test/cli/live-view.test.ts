// The live view in a real terminal: `sieve run` on a 20-point grid inside a tmux pane of 80 columns
// and 40 rows (fewer rows than node instances), then the pane's whole history is checked: the header
// is there, no line wrapped, no line was printed twice (the redrawn block left nothing behind).
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ENTRY, PLUGINS_LINE, assertCliBuilt, makeTempDir, removeTempDirs, writePipeline } from '../helpers/runtime.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux) console.warn('live-view tests skipped: tmux is not installed (apt-get install tmux)');

beforeAll(assertCliBuilt);
afterEach(removeTempDirs);

const GRID = [
  'name: watch',
  'seed: 1',
  PLUGINS_LINE,
  'nodes:',
  '  src: {type: test-source, params: {n: 4}}',
  '  first: {type: test-spin, inputs: {x: src}, params: {ms: 150}}',
  '  second: {type: test-spin, inputs: {x: first}, params: {ms: 150}}',
  '  m: {type: test-metrics, inputs: {x: second}}',
  'sweep:',
  '  grid:',
  '    first.tag: [t0, t1, t2, t3]',
  '    second.add: [1, 2, 3, 4, 5]',
  '',
].join('\n');

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe.skipIf(!hasTmux)('the live view in an 80×40 tmux pane', () => {
  it('shows the header, never wraps a line and never repeats one', async () => {
    const dir = await makeTempDir();
    const pipeline = await writePipeline(dir, GRID);
    const socket = `sieve-test-${process.pid}`;
    const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
    const env = { ...process.env, NO_COLOR: '', FORCE_COLOR: '1', SIEVE_CACHE: join(dir, 'cache'), TMUX: '' };
    const command = `cd ${JSON.stringify(dir)} && ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI_ENTRY)} run ${JSON.stringify(pipeline)} -j 3; echo "exit=$?"; sleep 60`;
    execFileSync('tmux', ['-L', socket, '-f', '/dev/null', 'new-session', '-d', '-s', 'run', '-x', '80', '-y', '40', command], { env });
    try {
      let text = '';
      for (let i = 0; i < 600 && !/exit=\d+/.test(text); i++) {
        await sleep(100);
        text = tmux('capture-pane', '-p', '-J', '-S', '-', '-E', '-', '-t', 'run');
      }
      expect(text).toMatch(/exit=0/);
      const lines = text.split('\n').map((l) => l.trimEnd()).filter((l) => l.length > 0);
      const end = lines.findIndex((l) => /^done: /.test(l));
      expect(end).toBeGreaterThan(0);
      // The run's view (what follows `done:` is the results table, another feature's).
      const view = lines.slice(0, end + 1);
      expect(view[0]).toBe('watch: 45 node(s), 20 point(s), 3 job(s)');
      for (const l of view) expect([...l].length, l).toBeLessThan(80);
      const seen = new Map<string, number>();
      for (const l of view) seen.set(l, (seen.get(l) ?? 0) + 1);
      expect([...seen].filter(([, n]) => n > 1).map(([l]) => l)).toEqual([]);
      // Every instance finished on its own line (45), after the header, and the block is gone.
      expect(view.filter((l) => /^✓ /.test(l))).toHaveLength(45);
      expect(view.some((l) => /waiting ·/.test(l))).toBe(false);
    } finally {
      spawnSync('tmux', ['-L', socket, 'kill-server']);
    }
  });
});

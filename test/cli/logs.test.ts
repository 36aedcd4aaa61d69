// `sieve logs NODE`: a command node's stdout and stderr, kept in the cache under its key (also when
// it failed), streamed live with -v.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PLUGINS_LINE, assertCliBuilt, makeTempDir, removeTempDirs, runCli, writePipeline } from '../helpers/runtime.js';

beforeAll(assertCliBuilt);
afterEach(removeTempDirs);

const pipeline = (exit: number): string => [
  'name: talk',
  PLUGINS_LINE,
  'nodes:',
  '  src: { type: test-source }',
  '  talk:',
  '    type: command',
  '    inputs: { x: src }',
  '    params:',
  `      run: node -e 'console.log("hello {seed}"); console.error("careful"); console.log("bye"); require("fs").writeFileSync(process.env.SIEVE_OUT_R, "{}"); process.exit(${exit})'`,
  '      outputs: { r: { kind: json } }',
  'sweep:',
  '  grid:',
  '    talk.seed: [1, 2]',
  '',
].join('\n');

/** The command line, then its stdout lines in order; stderr lines (another pipe) anywhere after it. */
function expectLog(text: string, seed: number): void {
  const lines = text.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^\$ node -e /);
  expect(lines.slice(1).filter((l) => !l.startsWith('stderr: '))).toEqual([`hello ${seed}`, 'bye']);
  expect(lines.filter((l) => l.startsWith('stderr: '))).toEqual(['stderr: careful']);
}

describe('sieve logs', () => {
  it("prints a command node's output per grid point; -v streams it during the run", async () => {
    const dir = await makeTempDir();
    const file = await writePipeline(dir, pipeline(0));
    const cache = ['--cache', `${dir}/cache`];
    const run = await runCli(['run', file, ...cache, '-v'], { cwd: dir });
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/talk: hello 1\n/);
    expect(run.stdout).toMatch(/talk: stderr: careful\n/);
    const first = await runCli(['logs', 'talk', file, ...cache], { cwd: dir });
    expect(first.exitCode).toBe(0);
    expectLog(first.stdout, 1);
    const second = await runCli(['logs', 'talk', file, ...cache, '--point', 'talk.seed=2'], { cwd: dir });
    expectLog(second.stdout, 2);
    const src = await runCli(['logs', 'src', file, ...cache], { cwd: dir });
    expect(src.exitCode).toBe(2);
    expect(src.stderr).toMatch(/no log for src at point talk.seed=1 .*logged nothing/);
    const bad = await runCli(['logs', 'tlak', file, ...cache], { cwd: dir });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('no node "tlak"');
    expect(bad.stderr).toContain('did you mean `talk`?');
  });

  it('keeps the log of a failed execution, and prints where its scratch folder was kept', async () => {
    const dir = await makeTempDir();
    const file = await writePipeline(dir, pipeline(4));
    const cache = ['--cache', `${dir}/cache`];
    const run = await runCli(['run', file, ...cache], { cwd: dir });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/scratch folder kept: .*cache\/tmp\/scratch-/);
    expect(run.stdout).toMatch(/rerun it by hand: cd /);
    const logs = await runCli(['logs', 'talk', file, ...cache], { cwd: dir });
    expect(logs.exitCode).toBe(0);
    expectLog(logs.stdout, 1);
  });
});

// `sieve types [TYPE]`: the node types, and one type's ports and params (text and --json).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TEST_PLUGIN, assertCliBuilt, makeTempDir, removeTempDirs, runCli } from '../helpers/runtime.js';

beforeAll(assertCliBuilt);
afterEach(removeTempDirs);

describe('sieve types', () => {
  it('lists every built-in type, details one, and suggests the nearest name for a typo', async () => {
    const cwd = await makeTempDir();
    const all = await runCli(['types'], { cwd });
    expect(all.exitCode).toBe(0);
    for (const t of ['command', 'embed', 'evaluate', 'load', 'noise-inject', 'relabel', 'select', 'train']) expect(all.stdout).toMatch(new RegExp(`^${t} +\\d+ `, 'm'));
    const train = await runCli(['types', 'train'], { cwd, env: { COLUMNS: '100' } });
    expect(train.exitCode).toBe(0);
    expect(train.stdout).toMatch(/^inputs:\n/m);
    expect(train.stdout).toMatch(/^ {2}text_features +tensor float32 rank 3 +optional \(required with head: text-init\)$/m);
    expect(train.stdout).toMatch(/^ {2}test_probs +tensor float32 rank 2/m);
    expect(train.stdout).toMatch(/^ {2}epochs +integer +\d+/m);
    for (const l of train.stdout.split('\n')) expect(l.length).toBeLessThan(100);
    const typo = await runCli(['types', 'relabl'], { cwd });
    expect(typo.exitCode).toBe(2);
    expect(typo.stderr).toContain('did you mean `relabel`?');
  });

  it('--json, and node types of a plugin', async () => {
    const cwd = await makeTempDir();
    const r = await runCli(['types', 'test-scale', '--plugin', TEST_PLUGIN, '--json'], { cwd });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      type: 'test-scale', portsKnown: true,
      inputs: [{ name: 'x', kind: 'tensor', dtype: 'float32', rank: 1, optional: false }],
      outputs: [{ name: 'y', kind: 'tensor', dtype: 'float32', rank: 1, optional: false }],
      params: expect.arrayContaining([expect.objectContaining({ name: 'factor', type: 'number', default: 2 })]),
    });
  });
});

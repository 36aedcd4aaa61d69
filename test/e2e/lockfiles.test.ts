// Every lockfile committed in pipelines/ is in the current format, and names the nodes of its pipeline.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCKFILE_VERSION, readLockfile } from '../../src/runtime/results/lockfile.js';
import { REPO_ROOT, planPipeline } from '../helpers/runtime.js';

describe('committed lockfiles', () => {
  it('parse as the current lockfile format and match their pipelines', async () => {
    const dir = join(REPO_ROOT, 'pipelines');
    const locks = (await readdir(dir)).filter((f) => f.endsWith('.lock'));
    expect(locks).toContain('mnist-noisy.lock');
    for (const name of locks) {
      const lock = await readLockfile(join(dir, name)); // throws on an old or foreign format
      expect(lock, name).toBeDefined();
      expect(lock!.version).toBe(LOCKFILE_VERSION);
      const plan = await planPipeline(join(dir, name.replace(/\.lock$/, '.yaml')));
      expect(lock!.pipeline).toBe(plan.file.name);
      for (const point of Object.values(lock!.points)) {
        expect(Object.keys(point.nodes).sort(), name).toEqual(plan.file.nodes.map((n) => n.id).sort());
        for (const rec of Object.values(point.nodes)) expect(rec.key).toMatch(/^[0-9a-f]{64}$/);
      }
    }
  });
});

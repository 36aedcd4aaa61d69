// Loading plugin modules: by require() where Node can require ES modules, with what import() would
// give in every case (an ES module's namespace, a CommonJS module's exports as `default`), and import()
// for what require cannot load (top-level await).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { importModule } from '../../src/runtime/types/import-module.js';
import { makeTempDir, removeTempDirs } from '../helpers/runtime.js';

afterAll(removeTempDirs);

async function moduleFile(name: string, text: string): Promise<string> {
  const dir = await makeTempDir();
  const path = join(dir, name);
  await writeFile(path, text);
  return pathToFileURL(path).href;
}

describe('importModule', () => {
  it('gives an ES module namespace, named exports and default', async () => {
    const ns = await importModule(await moduleFile('a.mjs', 'export const x = 1;\nexport default { kind: "esm" };\n'));
    expect(ns.x).toBe(1);
    expect(ns.default).toEqual({ kind: 'esm' });
  });

  it("gives a CommonJS module's exports as its default, as import() does", async () => {
    const url = await moduleFile('b.cjs', 'module.exports = [{ kind: "cjs" }];\n');
    const ns = await importModule(url);
    expect(ns.default).toEqual([{ kind: 'cjs' }]);
    expect(ns.default).toEqual(((await import(url)) as { default: unknown }).default);
  });

  it('loads a module with top-level await (which require() refuses)', async () => {
    const ns = await importModule(await moduleFile('c.mjs', 'export const y = await Promise.resolve(2);\n'));
    expect(ns.y).toBe(2);
  });

  it('reports a missing module by its path, without the stack of modules that required it', async () => {
    const dir = await makeTempDir();
    const missing = pathToFileURL(join(dir, 'nope.mjs')).href;
    const error = (await importModule(missing).catch((e: unknown) => e)) as Error;
    expect(error.message).toContain('nope.mjs');
    expect(error.message).not.toContain('Require stack');
  });
});

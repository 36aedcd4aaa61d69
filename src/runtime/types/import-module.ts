// Loading a module by URL. Where Node can require() an ES module (20.19+, 22.12+), a file is loaded
// with require: a command that needs nothing else from the ES module loader then never starts it,
// which is about 8 ms of a no-op `sieve run` (see bin/sieve.cjs). import() loads the rest: other URL
// schemes, modules with top-level await, everything on older versions of Node, and what require
// gives as CommonJS (import() then presents it as usual, from require's cache).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

let requireFile: NodeJS.Require | undefined; // created on first use: it costs about a millisecond

/** The module's namespace, as import() gives it. */
export async function importModule(url: string): Promise<Record<string, unknown>> {
  if (process.features.require_module && url.startsWith('file:')) {
    try {
      const loaded = (requireFile ??= createRequire(import.meta.url))(fileURLToPath(url)) as unknown;
      if (isNamespace(loaded)) return loaded;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ASYNC_MODULE') throw withoutRequireStack(e);
    }
  }
  return (await import(url)) as Record<string, unknown>;
}

/** require's "module not found" lists the requiring modules (Sieve's own), which says nothing to a user. */
function withoutRequireStack(e: unknown): unknown {
  if (e instanceof Error && (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') e.message = e.message.replace(/\nRequire stack:[\s\S]*$/, '');
  return e;
}

function isNamespace(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && (x as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Module';
}

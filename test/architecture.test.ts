// The layering the layout promises, checked on the sources' own import statements: no module
// imports itself back through others (a circle makes load order matter and hides a missing
// abstraction), the runtime knows nothing of noisy labels, and the random source sits below data/.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Module → the modules of src/ it imports (statically, dynamically, or for types only). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(src)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)].map((m) =>
      relative(src, resolve(dirname(file), `${m[1]}.ts`)),
    );
    graph.set(relative(src, file), targets);
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (m: string): void => {
    state.set(m, 'open');
    stack.push(m);
    for (const t of graph.get(m) ?? []) {
      if (state.get(t) === 'open') found.push([...stack.slice(stack.indexOf(t)), t]);
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(m, 'done');
  };
  for (const m of [...graph.keys()].sort()) if (!state.has(m)) visit(m);
  return found;
}

describe('architecture', () => {
  const graph = importGraph();

  it('reads the import graph (a check that finds no modules would pass anything)', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('runtime/planning/plan.ts')).toContain('runtime/planning/plan-types.ts');
  });

  it('has no import circles', () => {
    expect(cycles(graph).map((c) => c.join(' → '))).toEqual([]);
  });

  it('finds a circle when there is one', () => {
    expect(cycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['a.ts']]]))).toEqual([['a.ts', 'b.ts', 'a.ts']]);
  });

  it('keeps the runtime free of noisy-label code', () => {
    const upward = [...graph].flatMap(([m, targets]) =>
      m.startsWith('runtime/') ? targets.filter((t) => /^(nodes|methods|clip|data|io|cli|reporters)\//.test(t)).map((t) => `${m} → ${t}`) : [],
    );
    expect(upward).toEqual([]);
  });

  it('keeps data/ and random/ below methods/', () => {
    const upward = [...graph].flatMap(([m, targets]) =>
      /^(data|random)\//.test(m) ? targets.filter((t) => t.startsWith('methods/')).map((t) => `${m} → ${t}`) : [],
    );
    expect(upward).toEqual([]);
  });
});

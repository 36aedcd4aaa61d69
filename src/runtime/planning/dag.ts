// Graph algorithms over node ids: stable topological order and cycle extraction.

export interface Edges {
  /** For each node, the nodes it reads from, in declaration order. */
  readonly upstream: ReadonlyMap<string, readonly string[]>;
}

/** Kahn's algorithm; ties broken by declaration order so the order is stable. Undefined on a cycle. */
export function topologicalOrder(nodes: readonly string[], edges: Edges): string[] | undefined {
  const indegree = new Map(nodes.map((n) => [n, 0]));
  const downstream = new Map<string, string[]>(nodes.map((n) => [n, []]));
  for (const n of nodes) {
    for (const u of new Set(edges.upstream.get(n) ?? [])) {
      if (!indegree.has(u)) continue;
      indegree.set(n, (indegree.get(n) ?? 0) + 1);
      downstream.get(u)!.push(n);
    }
  }
  const position = new Map(nodes.map((n, i) => [n, i]));
  const ready = nodes.filter((n) => indegree.get(n) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => position.get(a)! - position.get(b)!);
    const n = ready.shift()!;
    order.push(n);
    for (const d of downstream.get(n)!) {
      const left = indegree.get(d)! - 1;
      indegree.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  return order.length === nodes.length ? order : undefined;
}

/** One cycle as a closed path [a, b, ..., a], or undefined when the graph is acyclic. */
export function findCycle(nodes: readonly string[], edges: Edges): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, 'open');
    stack.push(n);
    for (const u of edges.upstream.get(n) ?? []) {
      if (!nodes.includes(u)) continue;
      if (state.get(u) === 'open') {
        // Edges point upstream; reverse so the cycle reads in data-flow order.
        const cycle = stack.slice(stack.indexOf(u));
        return [...cycle, u].reverse();
      }
      if (!state.has(u)) {
        const found = visit(u);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of nodes) {
    if (!state.has(n)) {
      const found = visit(n);
      if (found) return found;
    }
  }
  return undefined;
}

/** All ancestors of `targets` (inclusive). */
export function ancestorsOf(targets: readonly string[], edges: Edges): Set<string> {
  const seen = new Set<string>();
  const todo = [...targets];
  while (todo.length > 0) {
    const n = todo.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    todo.push(...(edges.upstream.get(n) ?? []));
  }
  return seen;
}

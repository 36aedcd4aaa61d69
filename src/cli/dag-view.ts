// `sieve dag`: the pipeline's graph as an indented text tree or as Mermaid.
import type { NodeDecl, Plan } from '../runtime/planning/plan-types.js';

function downstreamMap(nodes: readonly NodeDecl[]): Map<string, { to: string; label: string }[]> {
  const out = new Map<string, { to: string; label: string }[]>(nodes.map((n) => [n.id, []]));
  for (const n of nodes) {
    for (const [port, ref] of Object.entries(n.inputs)) {
      const [from, fromPort] = ref.split('.');
      out.get(from)?.push({ to: n.id, label: fromPort ? `${fromPort} → ${port}` : port });
    }
  }
  return out;
}

export function dagText(plan: Plan): string {
  const nodes = plan.file.nodes;
  const down = downstreamMap(nodes);
  const typeOf = new Map(nodes.map((n) => [n.id, n.type]));
  const roots = nodes.filter((n) => Object.keys(n.inputs).length === 0).map((n) => n.id);
  const lines: string[] = [];
  const printed = new Set<string>();
  const walk = (id: string, prefix: string, last: boolean, via: string | undefined, depth: number): void => {
    const connector = depth === 0 ? '' : last ? '└─ ' : '├─ ';
    const seenBefore = printed.has(id);
    lines.push(`${prefix}${connector}${id} (${typeOf.get(id)})${via ? `  [${via}]` : ''}${seenBefore && down.get(id)!.length ? ' …' : ''}`);
    if (seenBefore) return;
    printed.add(id);
    const children = down.get(id)!;
    const childPrefix = depth === 0 ? '' : prefix + (last ? '   ' : '│  ');
    children.forEach((c, i) => walk(c.to, childPrefix, i === children.length - 1, c.label, depth + 1));
  };
  for (const r of roots) walk(r, '', true, undefined, 0);
  if (plan.points.length > 1) lines.push('', `sweep: ${plan.points.length} points over ${plan.sweptPaths.join(', ')}; ${plan.nodes.size} distinct node instances`);
  return lines.join('\n');
}

/**
 * Mermaid flowchart: one edge per pair of connected nodes, labelled with every port pair it carries
 * (`output → input`, the output resolved where the pipeline names only the node).
 */
export function dagMermaid(plan: Plan): string {
  const lines = ['flowchart TD'];
  for (const n of plan.file.nodes) lines.push(`  ${n.id}["${n.id}<br/><small>${n.type}</small>"]`);
  const first = plan.pointNodes[0];
  const pairs = new Map<string, { from: string; to: string; labels: string[] }>();
  for (const n of plan.file.nodes) {
    const planned = first?.get(n.id) ? plan.nodes.get(first.get(n.id)!) : undefined;
    for (const [port, ref] of Object.entries(n.inputs)) {
      const [from, fromPort] = String(ref).split('.');
      const out = fromPort ?? planned?.inputs[port]?.port;
      const key = `${from}\u0000${n.id}`;
      const pair = pairs.get(key) ?? { from, to: n.id, labels: [] };
      pair.labels.push(out ? `${out} → ${port}` : port);
      pairs.set(key, pair);
    }
  }
  for (const { from, to, labels } of pairs.values()) lines.push(`  ${from} -->|"${labels.join('<br/>')}"| ${to}`);
  return lines.join('\n');
}

// `sieve types [TYPE]`: the node types (built in, and those of --plugin modules) with their ports
// (name, kind, dtype, rank, optional) and params.
import { builtinRegistry } from '../nodes/index.js';
import { textTable } from '../reporters/format.js';
import { UsageError } from '../runtime/errors.js';
import { suggest } from '../runtime/planning/suggest.js';
import { describeNodeType, type NodeTypeInfo, type PortInfo } from '../runtime/types/node-catalog.js';
import type { NodeType } from '../runtime/types/node-type.js';

export async function typesCommand(type: string | undefined, flags: { plugin?: string[]; json?: boolean }): Promise<void> {
  const registry = builtinRegistry();
  for (const p of flags.plugin ?? []) await registry.loadPlugin(p, process.cwd());
  await registry.loadAll();
  const names = registry.types();
  if (type !== undefined && !names.includes(type)) {
    throw new UsageError(`unknown node type "${type}"${suggest(type, names)} (types: ${names.join(', ')})`);
  }
  const infos = (type ? [type] : names).map((t) => describeNodeType(registry.get(t)!.node as unknown as NodeType<never>));
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(type ? infos[0] : infos, null, 1)}\n`);
    return;
  }
  const width = Math.max(60, (process.stdout.columns || Number(process.env.COLUMNS) || 100) - 1);
  if (!type) {
    const rows = infos.map((i) => [i.type, i.version, cut(i.description, Math.max(20, width - 20))]);
    process.stdout.write(`${textTable(['type', 'version', 'description'], rows)}\n\n${'`sieve types TYPE` for its ports and params'}\n`);
    return;
  }
  process.stdout.write(`${detail(infos[0], width)}\n`);
}

function portType(p: PortInfo): string {
  return [p.kind, p.dtype, p.rank !== undefined ? `rank ${p.rank}` : undefined].filter(Boolean).join(' ');
}

function portNote(p: PortInfo): string {
  const parts: string[] = [];
  if (p.optional) parts.push(p.requiredWhen ? `optional (required with ${p.requiredWhen})` : 'optional');
  else if (p.optionalWhen) parts.push(`required (optional with ${p.optionalWhen})`);
  if (p.when) parts.push(`with ${p.when}`);
  return parts.join(', ');
}

function detail(i: NodeTypeInfo, width: number): string {
  const out = [
    // Resource hints make a compute node type, which runs in a worker thread here (see runsInWorker).
    `${i.type} (version ${i.version}${i.resources ? ', runs in a worker thread' : ''}` +
      `${i.resources ? `; asks a cluster for ${Object.entries(i.resources).map(([k, v]) => `${k} ${v}`).join(', ')}` : ''})`,
    ...wrap(i.description, width - 2).map((l) => `  ${l}`),
    '',
  ];
  const ports = (title: string, list: PortInfo[]): void => {
    out.push(`${title}:`);
    if (!i.portsKnown) out.push('  (set by the params: see below)');
    else if (list.length === 0) out.push('  (none)');
    else {
      out.push(...twoLine(['name', 'type', 'notes'], list.map((p) => [[p.name, portType(p), portNote(p)], p.description ?? '']), width));
    }
    out.push('');
  };
  ports('inputs', i.inputs);
  ports('outputs', i.outputs);
  out.push('params:');
  out.push(...twoLine(
    ['name', 'type', 'default'],
    i.params.map((p) => [
      [`${p.name}${p.required ? ' *' : ''}`, cut(p.type, 50), p.default === undefined ? '' : cut(JSON.stringify(p.default), 30)],
      `${i.executionOnly.includes(p.name) ? '(execution only: not part of the key) ' : ''}${p.description ?? ''}`,
    ]),
    width,
  ));
  if (i.params.some((p) => p.required)) out.push('  * required');
  return out.join('\n');
}

/** A table whose rows are each followed by an indented description line (wrapped to the width). */
function twoLine(columns: string[], rows: [string[], string][], width: number): string[] {
  const lines = textTable(columns, rows.map(([cells]) => cells)).split('\n');
  const out = lines.slice(0, 2).map((l) => cut(`  ${l}`, width));
  rows.forEach(([, description], r) => {
    out.push(cut(`  ${lines[r + 2]}`, width));
    if (description) out.push(...wrap(description, width - 6).map((l) => `      ${l}`));
  });
  return out;
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out.map((l) => cut(l, width));
}

function cut(s: string, width: number): string {
  return s.length <= width ? s : `${s.slice(0, width - 1)}…`;
}

// `sieve results`: one row per grid point, the swept params beside the metrics that metric-emitting
// nodes (those declaring `metrics` ports) produced, read from the lockfile and the cache.
import { decodeArtifact } from './artifact.js';
import { errorMessage } from './errors.js';
import { lockfileTypes, type Lockfile } from './lockfile.js';
import type { NodeRegistry } from './registry.js';
import type { Store } from './store.js';
import type { Json } from './tensor.js';

export interface ResultsTable {
  columns: string[];
  /** How many columns after `point` are swept params. */
  paramColumns: number;
  rows: Record<string, Json>[];
  /** Points whose metrics were not available (not run yet, or objects not in the cache). */
  missing: string[];
  /** Metrics objects that could not be read, each with why (corrupt, truncated, missing). */
  unreadable?: string[];
}

export async function collectResults(lock: Lockfile, registry: NodeRegistry, store: Store): Promise<ResultsTable> {
  await registry.load(lockfileTypes(lock));
  const paramCols = new Set<string>();
  const metricCols = new Set<string>();
  const rows: Record<string, Json>[] = [];
  const missing: string[] = [];
  const unreadable: string[] = [];
  for (const [pointId, point] of Object.entries(lock.points)) {
    const row: Record<string, Json> = { point: pointId };
    for (const [k, v] of Object.entries(point.assignments)) {
      paramCols.add(k);
      row[k] = v;
    }
    let found = false;
    for (const [nodeId, rec] of Object.entries(point.nodes)) {
      const ports = registry.get(rec.type)?.node.metrics ?? [];
      for (const port of ports) {
        const ref = rec.outputs[port];
        if (!ref) continue;
        const bytes = await store.read(ref).catch((e: unknown) => {
          unreadable.push(`${nodeId}.${port} at ${pointId}: ${errorMessage(e)}`);
          return undefined;
        });
        if (!bytes) continue;
        found = true;
        for (const [k, v] of Object.entries(scalars(decodeArtifact(ref, bytes) as Json))) {
          const col = `${nodeId}.${k}`;
          metricCols.add(col);
          row[col] = v;
        }
      }
    }
    if (!found) missing.push(pointId);
    rows.push(row);
  }
  return {
    columns: ['point', ...paramCols, ...[...metricCols].sort()], paramColumns: paramCols.size, rows, missing,
    ...(unreadable.length ? { unreadable } : {}),
  };
}

/** Numeric and boolean leaves of a metrics object, by dotted path (text and arrays are not metrics). */
function scalars(value: Json, prefix = '', out: Record<string, Json> = {}): Record<string, Json> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) scalars(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix && (typeof value === 'number' || typeof value === 'boolean')) {
    out[prefix] = value;
  }
  return out;
}

/**
 * The columns worth printing: the point and its params, then the metrics that differ between
 * points (all of them for a single point). The files keep every column.
 */
export function printableColumns(table: ResultsTable, paramCount: number): string[] {
  const fixed = table.columns.slice(0, 1 + paramCount);
  const metrics = table.columns.slice(1 + paramCount);
  if (table.rows.length < 2) return table.columns;
  const varying = metrics.filter((c) => new Set(table.rows.map((r) => JSON.stringify(r[c]))).size > 1);
  return [...fixed, ...varying];
}

export function toCsv(table: ResultsTable): string {
  const esc = (v: Json | undefined): string => {
    if (v === undefined || v === null) return '';
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [table.columns.join(','), ...table.rows.map((r) => table.columns.map((c) => esc(r[c])).join(','))].join('\n') + '\n';
}

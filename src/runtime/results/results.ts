// `sieve results`: one row per grid point, the swept params beside the metrics that metric-emitting
// nodes (those declaring `metrics` ports) produced, read from the lockfile and the cache; then
// filtered, aggregated over an axis, sorted and fitted to the terminal.
import { UsageError, errorMessage } from '../errors.js';
import { decodeArtifact } from '../store/artifact.js';
import type { Store } from '../store/store.js';
import type { Json } from '../tensor.js';
import type { NodeRegistry } from '../types/registry.js';
import { lockfileTypes, type Lockfile } from './lockfile.js';

export interface ResultsTable {
  columns: string[];
  /** How many columns after `point` are swept params. */
  paramColumns: number;
  rows: Record<string, Json>[];
  /** Points whose metrics were not available (not run yet, or objects not in the cache). */
  missing: string[];
  /** Set when rows are means over an axis: that axis; each metric M then has a column `M.std`, and `n` counts the points. */
  over?: string;
  /** Metrics objects that could not be read, each with why (corrupt, truncated, missing). */
  unreadable?: string[];
}

/** Suffix of the standard-deviation column of a metric in an aggregated table. */
export const STD_SUFFIX = '.std';

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
        let bytes: Uint8Array;
        try {
          bytes = store.readSync(ref); // small, and one per point: see Store.readSync
        } catch (e) {
          unreadable.push(`${nodeId}.${port} at ${pointId}: ${errorMessage(e)}`);
          continue;
        }
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
export function scalars(value: Json, prefix = '', out: Record<string, Json> = {}): Record<string, Json> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) scalars(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix && (typeof value === 'number' || typeof value === 'boolean')) {
    out[prefix] = value;
  }
  return out;
}

export const paramColumnsOf = (t: ResultsTable): string[] => t.columns.slice(1, 1 + t.paramColumns);
export const metricColumnsOf = (t: ResultsTable): string[] => t.columns.slice(1 + t.paramColumns);

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

/** Whether larger is better for a metric, by its name: losses, errors, calibration errors and noise are smaller-is-better. */
export function higherIsBetter(metric: string): boolean {
  const leaf = metric.split('.').pop() ?? metric;
  return !/(loss|error|ece|noise|_rate$|^rate$|time|_ms$|^ms$)/i.test(leaf);
}

/**
 * The metric columns a name picks: an exact column, the columns ending in `.NAME` (so `test_accuracy`
 * finds `evaluate.test_accuracy`), or a glob with `*`.
 */
export function matchMetric(table: ResultsTable, name: string): string[] {
  const metrics = metricColumnsOf(table);
  if (metrics.includes(name)) return [name];
  if (name.includes('*')) {
    const re = new RegExp(`^(.*\\.)?${name.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    return metrics.filter((m) => re.test(m));
  }
  return metrics.filter((m) => m.endsWith(`.${name}`));
}

/** One metric column for a name, or a usage error naming the candidates. */
export function resolveMetric(table: ResultsTable, name: string, flag: string): string {
  const found = matchMetric(table, name).filter((m) => !m.endsWith(STD_SUFFIX) || name.endsWith(STD_SUFFIX));
  if (found.length === 1) return found[0];
  const all = metricColumnsOf(table).filter((m) => !m.endsWith(STD_SUFFIX));
  if (found.length === 0) throw new UsageError(`${flag} ${name}: no such metric (metrics: ${all.join(', ') || 'none'})`);
  throw new UsageError(`${flag} ${name} is ambiguous: ${found.join(', ')}`);
}

export interface RowFilter {
  column: string;
  op: '<' | '<=' | '>' | '>=' | '=' | '!=';
  value: Json;
  text: string;
}

/** Parses `relabel.absorb>=0.8` (ops: < <= > >= = == !=); the column is a param or a metric. */
export function parseFilter(text: string, table: ResultsTable): RowFilter {
  const m = /^\s*([^<>=!\s]+)\s*(<=|>=|==|!=|=|<|>)\s*(.*?)\s*$/.exec(text);
  if (!m) throw new UsageError(`--filter ${text}: expected COLUMN OP VALUE, e.g. 'relabel.absorb>=0.8' (ops: < <= > >= = !=)`);
  const [, name, rawOp, raw] = m;
  let column = name;
  if (!table.columns.includes(name)) {
    const params = paramColumnsOf(table).filter((p) => p.endsWith(`.${name}`));
    column = params.length === 1 ? params[0] : resolveMetric(table, name, '--filter');
  }
  const num = Number(raw);
  const value: Json = raw !== '' && Number.isFinite(num) ? num : raw === 'true' ? true : raw === 'false' ? false : raw === 'null' ? null : raw.replace(/^(['"])(.*)\1$/, '$2');
  return { column, op: rawOp === '==' ? '=' : (rawOp as RowFilter['op']), value, text };
}

export function rowPasses(row: Record<string, Json>, f: RowFilter): boolean {
  const v = row[f.column] ?? null;
  if (f.op === '=') return JSON.stringify(v) === JSON.stringify(f.value) || String(v) === String(f.value);
  if (f.op === '!=') return !(JSON.stringify(v) === JSON.stringify(f.value) || String(v) === String(f.value));
  if (typeof v !== 'number' || typeof f.value !== 'number') return false;
  switch (f.op) {
    case '<': return v < f.value;
    case '<=': return v <= f.value;
    case '>': return v > f.value;
    case '>=': return v >= f.value;
  }
}

/** A table with only some rows (the columns stay). */
export function withRows(table: ResultsTable, keep: (row: Record<string, Json>) => boolean): ResultsTable {
  const rows = table.rows.filter(keep);
  const ids = new Set(rows.map((r) => r.point));
  return { ...table, rows, missing: table.missing.filter((p) => ids.has(p)) };
}

/**
 * Means and standard deviations over one axis: the rows that agree on every other param become one
 * row (`point` is then its other params), each metric M its mean and `M.std` the sample standard
 * deviation, and `n` how many points it summarises (as papers report results over seeds).
 */
export function aggregateOver(table: ResultsTable, axis: string): ResultsTable {
  const params = paramColumnsOf(table);
  let column = axis;
  if (!params.includes(axis)) {
    const found = params.filter((p) => p.endsWith(`.${axis}`));
    if (found.length !== 1) throw new UsageError(`--over ${axis}: no such swept param (params: ${params.join(', ') || 'none'})`);
    column = found[0];
  }
  const rest = params.filter((p) => p !== column);
  const metrics = metricColumnsOf(table).filter((m) => table.rows.some((r) => typeof r[m] === 'number'));
  const groups = new Map<string, Record<string, Json>[]>();
  for (const row of table.rows) {
    const key = JSON.stringify(rest.map((p) => row[p] ?? null));
    const g = groups.get(key) ?? [];
    g.push(row);
    groups.set(key, g);
  }
  const rows: Record<string, Json>[] = [];
  for (const g of groups.values()) {
    const first = g[0];
    const label = rest.filter((p) => first[p] !== undefined).map((p) => `${p}=${typeof first[p] === 'string' ? first[p] : JSON.stringify(first[p])}`).join(',');
    const row: Record<string, Json> = { point: label || 'all' };
    for (const p of rest) if (first[p] !== undefined) row[p] = first[p];
    row.n = g.length;
    for (const m of metrics) {
      const xs = g.map((r) => r[m]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      if (xs.length === 0) continue;
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const variance = xs.length > 1 ? xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1) : 0;
      row[m] = mean;
      row[`${m}${STD_SUFFIX}`] = Math.sqrt(variance);
    }
    rows.push(row);
  }
  const metricCols = metrics.flatMap((m) => [m, `${m}${STD_SUFFIX}`]);
  return { columns: ['point', ...rest, 'n', ...metricCols], paramColumns: rest.length + 1, rows, missing: [], over: column };
}

/** Rows ordered best first by a metric (rows without it last). */
export function sortByMetric(table: ResultsTable, metric: string): ResultsTable {
  const up = higherIsBetter(metric);
  const score = (r: Record<string, Json>): number => (typeof r[metric] === 'number' && Number.isFinite(r[metric]) ? (r[metric] as number) : Number.NaN);
  const rows = [...table.rows].sort((a, b) => {
    const x = score(a);
    const y = score(b);
    if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
    return up ? y - x : x - y;
  });
  return { ...table, rows };
}

/** The point with the best value of a metric; undefined when no row has it. */
export function bestRow(table: ResultsTable, metric: string): Record<string, Json> | undefined {
  const first = sortByMetric(table, metric).rows[0];
  return first && typeof first[metric] === 'number' ? first : undefined;
}

/**
 * The metric a table is judged by when none is named: the first varying one whose name says
 * accuracy (test accuracy before others), else the first varying metric.
 */
export function defaultMetric(table: ResultsTable): string | undefined {
  const metrics = metricColumnsOf(table).filter((m) => !m.endsWith(STD_SUFFIX) && table.rows.some((r) => typeof r[m] === 'number'));
  const varying = table.rows.length < 2 ? metrics : metrics.filter((m) => new Set(table.rows.map((r) => JSON.stringify(r[m]))).size > 1);
  const pool = varying.length > 0 ? varying : metrics;
  return pool.find((m) => /(^|\.)test_accuracy$/.test(m)) ?? pool.find((m) => /accuracy/.test(m)) ?? pool[0];
}

/** A table reduced to some columns (the point and params always stay; `n` too when aggregated). */
export function withMetrics(table: ResultsTable, metrics: readonly string[]): ResultsTable {
  const keep = table.over ? metrics.flatMap((m) => [m, `${m}${STD_SUFFIX}`]) : [...metrics];
  return { ...table, columns: [...table.columns.slice(0, 1 + table.paramColumns), ...keep] };
}

export function toCsv(table: ResultsTable): string {
  const esc = (v: Json | undefined): string => {
    if (v === undefined || v === null) return '';
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [table.columns.join(','), ...table.rows.map((r) => table.columns.map((c) => esc(r[c])).join(','))].join('\n') + '\n';
}

export function toJson(table: ResultsTable): string {
  return `${JSON.stringify({ columns: table.columns, paramColumns: table.paramColumns, ...(table.over ? { over: table.over } : {}), rows: table.rows.map((r) => Object.fromEntries(table.columns.filter((c) => c in r).map((c) => [c, r[c]]))), missing: table.missing }, null, 1)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Fitting the terminal

export function formatCell(v: Json | undefined): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    return Math.abs(v) >= 1000 || Math.abs(v) < 0.001 ? v.toExponential(3) : v.toFixed(4);
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Shortest unambiguous header for each column: drops the leading `node.` when no other column would clash. */
function shortHeaders(cols: readonly string[]): string[] {
  const leaf = (c: string): string => c.slice(c.indexOf('.') + 1);
  const counts = new Map<string, number>();
  for (const c of cols) counts.set(leaf(c), (counts.get(leaf(c)) ?? 0) + 1);
  return cols.map((c) => (c.includes('.') && counts.get(leaf(c)) === 1 && !cols.includes(leaf(c)) ? leaf(c) : c));
}

function clip(s: string, width: number): string {
  return s.length <= width ? s : `${s.slice(0, Math.max(1, width - 1))}…`;
}

export interface RenderOptions {
  /** Terminal width in characters. */
  width: number;
  /** The metric the best point is judged by (marked with `*`). */
  best?: string;
  /** Metric columns in the order to show them; those that do not fit are left out (and counted). */
  metrics: readonly string[];
}

export interface Rendered {
  text: string;
  /** Metric columns that did not fit. */
  hidden: string[];
}

/**
 * The table as text no wider than `width`: a point label (clipped), the params, then as many of the
 * metrics as fit (in the given order), mean ± std when aggregated; `*` marks the best point.
 */
export function renderTable(table: ResultsTable, opts: RenderOptions): Rendered {
  const gap = 2;
  const params = table.columns.slice(1, 1 + table.paramColumns);
  const best = opts.best && table.rows.length > 1 ? bestRow(table, opts.best) : undefined;
  const cell = (r: Record<string, Json>, c: string): string => {
    if (params.includes(c)) return r[c] === undefined ? '' : typeof r[c] === 'string' ? (r[c] as string) : JSON.stringify(r[c]);
    if (!table.over || c === 'n') return formatCell(r[c]);
    const m = r[c];
    if (typeof m !== 'number') return formatCell(m);
    const sd = r[`${c}${STD_SUFFIX}`];
    return `${formatCell(m)} ± ${typeof sd === 'number' ? formatCell(sd) : '?'}`;
  };
  // Headers are clipped to their values' width, but keep at least 16 characters.
  const headers = shortHeaders([...params, ...opts.metrics]);
  const columnWidth = (i: number, c: string): number => {
    const values = Math.max(1, ...table.rows.map((r) => cell(r, c).length));
    return Math.max(values, Math.min(headers[i].length, 16));
  };
  const paramWidths = params.map((c, i) => columnWidth(i, c));
  // The label in short form: `relabel.absorb=0.7` becomes `absorb=0.7` where the column header did.
  const short = new Map(params.map((p, i) => [p, headers[i]]));
  const labels = table.rows.map((r) => String(r.point).split(',').map((part) => {
    const eq = part.indexOf('=');
    return eq > 0 && short.has(part.slice(0, eq)) ? `${short.get(part.slice(0, eq))}${part.slice(eq)}` : part;
  }).join(','));
  const fullLabel = Math.max(5, ...labels.map((l) => l.length));
  const fixed = paramWidths.reduce((a, w) => a + w + gap, 0) + 2; // "* " mark
  // The label (which repeats the params) gets what is left after the params and the first four
  // metrics, at most its full length and at least 12 characters.
  const firstMetrics = opts.metrics.slice(0, 4).reduce((a, m, j) => a + columnWidth(params.length + j, m) + gap, 0);
  const labelWidth = Math.max(12, Math.min(fullLabel, opts.width - fixed - firstMetrics));
  let used = 2 + labelWidth + fixed - 2;
  const shown: string[] = [];
  const widths: number[] = [];
  const hidden: string[] = [];
  for (const [j, m] of opts.metrics.entries()) {
    const w = columnWidth(params.length + j, m);
    if (used + gap + w <= opts.width && hidden.length === 0) {
      shown.push(m);
      widths.push(w);
      used += gap + w;
    } else hidden.push(m);
  }
  const cols = [...params, ...shown];
  const allWidths = [...paramWidths, ...widths];
  const heads = shortHeaders(cols);
  const line = (mark: string, label: string, cells: string[]): string =>
    [`${mark}${clip(label, labelWidth).padEnd(labelWidth)}`, ...cells.map((c, i) => (i >= params.length ? c.padStart(allWidths[i]) : c.padEnd(allWidths[i])))]
      .join(' '.repeat(gap))
      .trimEnd();
  const out = [
    line('  ', 'point', heads.map((h, i) => clip(h, allWidths[i]))),
    line('  ', '-'.repeat(labelWidth), allWidths.map((w) => '-'.repeat(w))),
    ...table.rows.map((r, i) => line(r === best ? '* ' : '  ', labels[i], cols.map((c) => cell(r, c)))),
  ];
  return { text: out.join('\n'), hidden };
}

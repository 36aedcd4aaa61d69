// `sieve report`: one self-contained HTML page (no script, no network) with the results of a grid.
// Every plot is a Vega-Lite spec compiled and rendered to SVG here, in Node, by `vega-lite` and
// `vega` (no canvas needed: text is measured by estimate), then inlined:
//   - each chosen metric against each swept axis, one curve per value of the other axes (means with
//     ± std bars when aggregated over an axis): the threshold ablation figure of the papers;
//   - per-class selection precision and recall of one point (evaluate's `per_class`);
//   - its confusion matrix (evaluate's `confusion`) and noise transition matrix (noise-inject's
//     `transition_matrix`) as heat maps;
//   - the results table.
import { formatCell, STD_SUFFIX, type ResultsTable } from '../runtime/results/results.js';
import type { Json } from '../runtime/tensor.js';

/** A Vega-Lite specification (kept as plain JSON here; vega-lite checks it when compiling). */
export type VegaLiteSpec = Record<string, unknown>;

export interface Figure {
  title: string;
  spec: VegaLiteSpec;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

const label = (v: Json | undefined): string => (v === undefined ? '–' : typeof v === 'string' ? v : JSON.stringify(v));

/** The params that take more than one value among the rows (the axes worth plotting against). */
export function sweptAxes(table: ResultsTable): string[] {
  return table.columns
    .slice(1, 1 + table.paramColumns)
    .filter((c) => c !== 'n' && new Set(table.rows.map((r) => JSON.stringify(r[c] ?? null))).size > 1);
}

/** At most this many curves in one plot; beyond it, the curves follow one other axis and the rest are averaged. */
export const MAX_SERIES = 10;

const distinct = (table: ResultsTable, col: string): number => new Set(table.rows.map((r) => JSON.stringify(r[col] ?? null))).size;

/**
 * `metric` against `axis`, one curve per combination of the other axes (± std bars when the table
 * is aggregated). When that would be more than MAX_SERIES curves, the curves follow the first other
 * axis with few enough values and the points are means (± std) over the remaining axes.
 */
export function lineFigure(table: ResultsTable, metric: string, axis: string, axes: readonly string[]): Figure {
  let others = axes.filter((a) => a !== axis);
  let averaged: string[] = [];
  if (others.reduce((n, a) => n * distinct(table, a), 1) > MAX_SERIES) {
    const keep = others.find((a) => distinct(table, a) <= MAX_SERIES);
    averaged = others.filter((a) => a !== keep);
    others = keep ? [keep] : [];
  }
  const numeric = table.rows.every((r) => typeof r[axis] === 'number');
  const raw = table.rows
    .filter((r) => typeof r[metric] === 'number' && Number.isFinite(r[metric]))
    .map((r) => ({
      x: numeric ? r[axis] : label(r[axis]),
      y: r[metric] as number,
      sd: typeof r[`${metric}${STD_SUFFIX}`] === 'number' ? (r[`${metric}${STD_SUFFIX}`] as number) : 0,
      series: others.length ? others.map((o) => `${o.split('.').pop()}=${label(r[o])}`).join(', ') : 'all',
    }));
  let values = raw.map((v) => ({ x: v.x, y: v.y, lo: v.y - v.sd, hi: v.y + v.sd, series: v.series }));
  if (averaged.length > 0) {
    const groups = new Map<string, typeof raw>();
    for (const v of raw) {
      const k = JSON.stringify([v.x, v.series]);
      groups.set(k, [...(groups.get(k) ?? []), v]);
    }
    values = [...groups.values()].map((g) => {
      const mean = g.reduce((a, v) => a + v.y, 0) / g.length;
      const sd = g.length > 1 ? Math.sqrt(g.reduce((a, v) => a + (v.y - mean) ** 2, 0) / (g.length - 1)) : 0;
      return { x: g[0].x, y: mean, lo: mean - sd, hi: mean + sd, series: g[0].series };
    });
  }
  const x = { field: 'x', type: numeric ? 'quantitative' : 'ordinal', title: axis, ...(numeric ? { scale: { zero: false } } : { sort: null }) };
  const color = others.length ? { color: { field: 'series', type: 'nominal', title: others.join(', ') } } : {};
  const layers: VegaLiteSpec[] = [
    { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'y', type: 'quantitative', title: metric, scale: { zero: false } }, ...color } },
  ];
  if (table.over || averaged.length > 0) {
    layers.push({ mark: { type: 'errorbar', ticks: true }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: metric }, y2: { field: 'hi' }, ...color } });
  }
  const over = [...(table.over ? [table.over] : []), ...averaged];
  const title = `${metric}${over.length ? ` (mean ± std over ${over.join(', ')})` : ''} vs ${axis}`;
  return { title, spec: { $schema: SCHEMA, title, width: 380, height: 240, data: { values }, layer: layers } };
}

/** Grouped bars of per-class selection precision and recall. */
export function perClassFigure(perClass: readonly Record<string, Json>[], point: string): Figure | undefined {
  const values = perClass.flatMap((r) =>
    (['selection_precision', 'selection_recall'] as const)
      .filter((k) => typeof r[k] === 'number')
      .map((k) => ({ class: label(r.class), measure: k.replace('selection_', ''), value: r[k] as number })),
  );
  if (values.length === 0) return undefined;
  const title = `Per-class selection precision and recall (${point})`;
  return {
    title,
    spec: {
      $schema: SCHEMA, title, width: Math.min(900, Math.max(300, 40 * perClass.length)), height: 220, data: { values }, mark: 'bar',
      encoding: {
        x: { field: 'class', type: 'nominal', sort: null, title: 'class' },
        xOffset: { field: 'measure' },
        y: { field: 'value', type: 'quantitative', scale: { domain: [0, 1] } },
        color: { field: 'measure', type: 'nominal' },
      },
    },
  };
}

/** A K×K matrix as a heat map (rows: `rowTitle`, columns: `colTitle`), with the values written in when K is small. */
export function heatmapFigure(title: string, matrix: readonly (readonly (number | null)[] | null)[], classes: readonly string[], rowTitle: string, colTitle: string): Figure {
  const name = (i: number): string => classes[i] ?? String(i);
  const values = matrix.flatMap((row, i) => (row ?? []).map((v, j) => ({ row: name(i), col: name(j), value: v })));
  const order = matrix.map((_, i) => name(i));
  const size = Math.min(520, Math.max(200, 28 * matrix.length));
  const enc = {
    x: { field: 'col', type: 'ordinal', sort: order, title: colTitle },
    y: { field: 'row', type: 'ordinal', sort: order, title: rowTitle },
  };
  const layers: VegaLiteSpec[] = [{ mark: 'rect', encoding: { ...enc, color: { field: 'value', type: 'quantitative', scale: { scheme: 'blues' } } } }];
  if (matrix.length <= 12) {
    const integers = values.every((v) => v.value === null || Number.isInteger(v.value));
    layers.push({ mark: { type: 'text', fontSize: 9 }, encoding: { ...enc, text: { field: 'value', type: 'quantitative', format: integers ? 'd' : '.2f' } } });
  }
  return { title, spec: { $schema: SCHEMA, title, width: size, height: size, data: { values }, layer: layers } };
}

/** Renders a Vega-Lite spec to an SVG string (vega and vega-lite are loaded on first use). */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const [{ compile }, vega] = await Promise.all([import('vega-lite'), import('vega')]);
  const compiled = compile(spec as unknown as Parameters<typeof compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export interface ReportInput {
  pipeline: string;
  /** When the report was made (ISO time). */
  time: string;
  table: ResultsTable;
  /** Metric columns in the table, in order. */
  metrics: readonly string[];
  /** Metric columns plotted (default: `metrics`). */
  plotted?: readonly string[];
  /** The metric the best point is judged by. */
  best?: string;
  bestPoint?: string;
  /** The point whose per-class plots and matrices are shown, and what was found for it. */
  detail?: {
    point: string;
    perClass?: Record<string, Json>[];
    confusion?: { matrix: number[][]; classes: string[] };
    transition?: { matrix: (number[] | null)[]; classes: string[] };
  };
  notes?: string[];
}

/** The figures of a report, in page order. */
export function reportFigures(input: ReportInput): { section: string; figures: Figure[] }[] {
  const axes = sweptAxes(input.table);
  const sections: { section: string; figures: Figure[] }[] = [];
  if (axes.length > 0) {
    sections.push({ section: 'Metrics against each swept parameter', figures: (input.plotted ?? input.metrics).flatMap((m) => axes.map((a) => lineFigure(input.table, m, a, axes))) });
  }
  const d = input.detail;
  if (d) {
    const figures: Figure[] = [];
    const bars = d.perClass ? perClassFigure(d.perClass, d.point) : undefined;
    if (bars) figures.push(bars);
    if (d.confusion) figures.push(heatmapFigure(`Confusion matrix (${d.point})`, d.confusion.matrix, d.confusion.classes, 'true class', 'predicted class'));
    if (d.transition) figures.push(heatmapFigure(`Noise transition matrix (${d.point})`, d.transition.matrix, d.transition.classes, 'true class', 'noisy label'));
    if (figures.length > 0) sections.push({ section: `Point ${d.point}`, figures });
  }
  return sections;
}

function tableHtml(input: ReportInput): string {
  const t = input.table;
  const params = t.columns.slice(1, 1 + t.paramColumns);
  const cell = (r: Record<string, Json>, c: string): string => {
    const v = r[c];
    if (!t.over || params.includes(c) || typeof v !== 'number') return formatCell(v);
    const sd = r[`${c}${STD_SUFFIX}`];
    return `${formatCell(v)} ± ${typeof sd === 'number' ? formatCell(sd) : '?'}`;
  };
  const head = ['point', ...params, ...input.metrics].map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const rows = t.rows
    .map((r) => {
      const best = r.point === input.bestPoint;
      const cells = [`${best ? '★ ' : ''}${String(r.point)}`, ...params.map((c) => cell(r, c)), ...input.metrics.map((c) => cell(r, c))];
      return `<tr${best ? ' class="best"' : ''}>${cells.map((c, i) => `<td${i > params.length ? ' class="num"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows}\n</tbody>\n</table>`;
}

/** The whole page: inline CSS and SVG only, so it opens offline and runs no script. */
export async function reportHtml(input: ReportInput): Promise<string> {
  const parts: string[] = [];
  for (const { section, figures } of reportFigures(input)) {
    const svgs = await Promise.all(figures.map(async (f) => `<figure class="plot">${await renderSvg(f.spec)}<figcaption>${escapeHtml(f.title)}</figcaption></figure>`));
    parts.push(`<section><h2>${escapeHtml(section)}</h2>\n<div class="plots">\n${svgs.join('\n')}\n</div></section>`);
  }
  const n = input.table.rows.length;
  const summary = [
    `${n} ${input.table.over ? `row${n === 1 ? '' : 's'} (mean ± std over ${input.table.over})` : `point${n === 1 ? '' : 's'}`}`,
    input.best && input.bestPoint ? `best ${input.best}: ${input.bestPoint}` : undefined,
    `made ${input.time}`,
  ].filter(Boolean);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(`Sieve report: ${input.pipeline}`)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure.plot { margin: 0; } figcaption { font-size: 12px; color: #555; }
table { border-collapse: collapse; font-size: 12px; } th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } tr.best { background: #fff7d6; font-weight: 600; }
.notes { color: #666; }
</style>
</head>
<body>
<h1>${escapeHtml(`Sieve report: ${input.pipeline}`)}</h1>
<p>${escapeHtml(summary.join(' · '))}</p>
${(input.notes ?? []).map((note) => `<p class="notes">${escapeHtml(note)}</p>`).join('\n')}
${parts.join('\n')}
<section><h2>Results</h2>
${tableHtml(input)}
</section>
</body>
</html>
`;
}

// The report's Vega-Lite specs, without rendering: curves per other axis, and averaging when there
// would be too many curves.
import { describe, expect, it } from 'vitest';
import { heatmapFigure, lineFigure, MAX_SERIES, renderSvg, sweptAxes } from '../../src/reporters/report.js';
import type { ResultsTable } from '../../src/runtime/results/results.js';

function grid(sides: number[]): ResultsTable {
  const rows: ResultsTable['rows'] = [];
  const [na, nb, nc] = sides;
  for (let a = 0; a < na; a++) for (let b = 0; b < nb; b++) for (let c = 0; c < nc; c++) {
    rows.push({ point: `a=${a},b=${b},c=${c}`, 'x.a': a, 'x.b': b, 'x.c': c, 'e.acc': a + 10 * b + 100 * c });
  }
  return { columns: ['point', 'x.a', 'x.b', 'x.c', 'e.acc'], paramColumns: 3, rows, missing: [] };
}

type Values = { x: number; y: number; lo: number; hi: number; series: string }[];
const valuesOf = (spec: Record<string, unknown>): Values => (spec.data as { values: Values }).values;

describe('report figures', () => {
  it('one curve per combination of the other axes while they are few', () => {
    const t = grid([3, 2, 2]);
    expect(sweptAxes(t)).toEqual(['x.a', 'x.b', 'x.c']);
    const f = lineFigure(t, 'e.acc', 'x.a', sweptAxes(t));
    expect(f.title).toBe('e.acc vs x.a');
    const v = valuesOf(f.spec);
    expect(v).toHaveLength(12);
    expect(new Set(v.map((r) => r.series))).toEqual(new Set(['b=0, c=0', 'b=0, c=1', 'b=1, c=0', 'b=1, c=1']));
  });

  it(`beyond ${MAX_SERIES} curves: one per value of the next axis, means ± std over the rest`, () => {
    const t = grid([4, 4, 4]);
    const f = lineFigure(t, 'e.acc', 'x.a', sweptAxes(t));
    expect(f.title).toBe('e.acc (mean ± std over x.c) vs x.a');
    const v = valuesOf(f.spec);
    expect(v).toHaveLength(16);
    const point = v.find((r) => r.x === 1 && r.series === 'b=2')!;
    // c = 0..3 → acc = 1 + 20 + {0, 100, 200, 300}: mean 171, sample std 129.0994...
    expect(point.y).toBe(171);
    expect(point.hi - point.y).toBeCloseTo(Math.sqrt((150 ** 2 + 50 ** 2) * 2 / 3), 9);
  });

  it('renders a heat map to SVG in Node, without a canvas', async () => {
    const svg = await renderSvg(heatmapFigure('m', [[1, 2], [3, 4]], ['p', 'q'], 'true', 'pred').spec);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('aria-roledescription="rect mark"');
  });
});

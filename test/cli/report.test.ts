// `sieve report`: one self-contained HTML page, checked as text and in a real headless browser
// (Debian's chromium through playwright-core): it loads with no console error and no request
// leaving the file, and its plots are SVG elements.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertCliBuilt, makeTempDir, removeTempDirs, runCli, writePipeline } from '../helpers/runtime.js';

beforeAll(assertCliBuilt);
afterAll(removeTempDirs);

// A metrics node like evaluate (scalar metrics, per_class with selection precision/recall, a
// confusion matrix) and a noise report with a transition matrix; deterministic in its params.
const PLUGIN = `
export default [
  {
    type: 'fake-noise', version: '1', description: 'noise report',
    paramsSchema: { type: 'object', additionalProperties: false, properties: { rate: { type: 'number', default: 0.2 } } },
    ports: { inputs: {}, outputs: { report: { kind: 'json' } } },
    async run(ctx) {
      const r = ctx.params.rate;
      return { report: { transition_matrix: [[1 - r, r, 0], [0, 1 - r, r], [r, 0, 1 - r]] } };
    },
  },
  {
    type: 'fake-eval', version: '1', description: 'metrics', metrics: ['metrics'],
    paramsSchema: { type: 'object', additionalProperties: false, properties: { absorb: { type: 'number', default: 0.8 }, relabel: { type: 'number', default: 0.8 } } },
    ports: { inputs: { noise: { kind: 'json' } }, outputs: { metrics: { kind: 'json' } } },
    async run(ctx) {
      const { absorb, relabel } = ctx.params;
      const acc = 0.5 + absorb / 4 - (relabel - 0.8) ** 2;
      return { metrics: {
        test_accuracy: acc, ece: 1 - acc, selection_precision: absorb,
        per_class: ['cat', 'dog', 'cow'].map((c, i) => ({ class: c, selection_precision: 0.9 - i / 10, selection_recall: 0.5 + i / 10 })),
        confusion: { rows: 'true class', columns: 'predicted class', matrix: [[8, 1, 1], [2, 7, 1], [0, 0, 10]] },
        table: 'text is not a metric',
      } };
    },
  },
];
`;

const PIPELINE = `name: ablation
plugins: [./plugin.mjs]
nodes:
  noise: { type: fake-noise }
  evaluate: { type: fake-eval, inputs: { noise: noise.report } }
sweep:
  grid:
    evaluate.absorb: [0.7, 0.8, 0.9]
    evaluate.relabel: [0.8, 0.9]
`;

let dir: string;
let report: string;

beforeAll(async () => {
  dir = await makeTempDir();
  await writeFile(join(dir, 'plugin.mjs'), PLUGIN);
  const pipeline = await writePipeline(dir, PIPELINE);
  expect((await runCli(['run', pipeline], { cwd: dir })).exitCode).toBe(0);
  const r = await runCli(['report', pipeline, '-o', 'report.html'], { cwd: dir });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  report = join(dir, 'report.html');
}, 60_000);

describe('sieve report', () => {
  it('writes one self-contained page: line plots per metric and axis, per-class bars, both heat maps, the results table', async () => {
    const html = await readFile(report, 'utf8');
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\((?!#)/i); // url(#id) is a gradient in the page
    const ids = [...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    // The only absolute URLs are the SVG namespaces.
    const urls = new Set(html.match(/https?:\/\/[^\s"')<]+/g));
    expect([...urls].sort()).toEqual(['http://www.w3.org/1999/xlink', 'http://www.w3.org/2000/svg']);
    const captions = [...html.matchAll(/<figcaption>([^<]*)<\/figcaption>/g)].map((m) => m[1]);
    expect(captions).toEqual([
      'evaluate.test_accuracy vs evaluate.absorb', 'evaluate.test_accuracy vs evaluate.relabel',
      'evaluate.ece vs evaluate.absorb', 'evaluate.ece vs evaluate.relabel',
      'evaluate.selection_precision vs evaluate.absorb', 'evaluate.selection_precision vs evaluate.relabel',
      'Per-class selection precision and recall (evaluate.absorb=0.9,evaluate.relabel=0.8)',
      'Confusion matrix (evaluate.absorb=0.9,evaluate.relabel=0.8)',
      'Noise transition matrix (evaluate.absorb=0.9,evaluate.relabel=0.8)',
    ]);
    expect((html.match(/<svg /g) ?? []).length).toBe(captions.length);
    // One curve per value of the other axis: two relabel values → two lines in the absorb plot.
    const first = html.slice(html.indexOf('<svg '), html.indexOf('</svg>'));
    expect((first.match(/aria-roledescription="line mark"/g) ?? []).length).toBe(2);
    // The table: every point, the best one marked.
    expect((html.match(/<tr/g) ?? []).length).toBe(1 + 6);
    expect(html).toContain('<tr class="best"><td>★ evaluate.absorb=0.9,evaluate.relabel=0.8</td>');
    expect(html).toMatch(/class_|cat/);
  });

  it('--over aggregates: means with ± std in the plots and the table', async () => {
    const r = await runCli(['report', 'pipeline.yaml', '-o', 'over.html', '--over', 'relabel', '--metric', 'test_accuracy'], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const html = await readFile(join(dir, 'over.html'), 'utf8');
    expect(html).toContain('<figcaption>evaluate.test_accuracy (mean ± std over evaluate.relabel) vs evaluate.absorb</figcaption>');
    expect(html).toMatch(/<td class="num">0\.6700 ± 0\.0071<\/td>/); // absorb 0.7: 0.675 and 0.665
  });

  const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  it.skipIf(!existsSync(CHROMIUM))(`opens in headless Chromium with no console error and no network request, its plots present as SVG${existsSync(CHROMIUM) ? '' : ` (skipped: no browser at ${CHROMIUM}; install Debian's chromium or set CHROMIUM_PATH)`}`, async () => {
    const { chromium } = await import('playwright-core');
    const userDataDir = await makeTempDir('sieve-chromium-');
    const browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(String(e)));
      await page.route('**/*', async (route) => {
        const url = route.request().url();
        if (url.startsWith('file:')) return route.continue();
        requests.push(url);
        return route.abort();
      });
      await page.goto(pathToFileURL(report).href, { waitUntil: 'load' });
      expect(problems).toEqual([]);
      expect(requests).toEqual([]);
      expect(await page.locator('figure.plot > svg').count()).toBe(9);
      // Rendered, not just present: each plot has a size and marks.
      const sizes = await page.locator('figure.plot > svg').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
      for (const w of sizes) expect(w).toBeGreaterThan(100);
      expect(await page.locator('svg [aria-roledescription="rect mark"], svg .mark-rect').count()).toBeGreaterThan(0);
      expect(await page.locator('table tr').count()).toBe(7);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

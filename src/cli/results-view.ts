// `sieve results` and the table `sieve run` prints after a grid: the lockfile's points × metrics,
// written to results/<name>.csv and .json at the project root, then filtered, aggregated, sorted
// and fitted to the terminal (or printed as CSV/JSON).
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pc from 'picocolors';
import { UsageError } from '../runtime/errors.js';
import type { Plan } from '../runtime/planning/plan-types.js';
import { lockfilePath, readLockfile, type Lockfile } from '../runtime/results/lockfile.js';
import {
  aggregateOver, bestRow, collectResults, defaultMetric, matchMetric, metricColumnsOf, parseFilter, printableColumns,
  renderTable, resolveMetric, rowPasses, sortByMetric, STD_SUFFIX, toCsv, toJson, withMetrics, withRows, type ResultsTable,
} from '../runtime/results/results.js';
import { runRecordId, type RunHistoryEntry } from '../runtime/results/run-record.js';
import type { Store } from '../runtime/store/store.js';
import { resultsDir } from './defaults.js';

export interface ResultsFlags {
  out?: string;
  metric?: string[];
  sort?: string;
  best?: string;
  filter?: string[];
  over?: string;
  latest?: boolean;
  json?: boolean;
  csv?: boolean;
}

/** The terminal width tables are fitted to: $COLUMNS, else the terminal's, else 100. */
export function terminalWidth(): number {
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env > 20) return env;
  return process.stdout.isTTY && process.stdout.columns ? process.stdout.columns : 100;
}

/** The grid points of the pipeline's latest run (from the run history in the cache). */
export async function latestPoints(p: Plan, store: Store): Promise<string[]> {
  const history = (await store.readRunHistory(runRecordId(p.file.path))) as unknown as RunHistoryEntry[];
  const last = history.at(-1);
  if (!last) throw new UsageError(`--latest: no run of ${p.file.path} is recorded in ${store.root}`);
  return last.points;
}

export interface ResultsView {
  /** Every point, every column: what the files keep. */
  full: ResultsTable;
  /** Filtered, aggregated and sorted as asked. */
  view: ResultsTable;
  /** Metric columns to show, in order. */
  metrics: string[];
  /** The metric the best point is judged by. */
  best?: string;
}

/** Applies the options to the lockfile's table. */
export async function resultsView(p: Plan, store: Store, lock: Lockfile, flags: ResultsFlags): Promise<ResultsView> {
  const full = await collectResults(lock, p.registry, store);
  let view = full;
  if (flags.latest) {
    const keep = new Set(await latestPoints(p, store));
    view = withRows(view, (r) => keep.has(String(r.point)));
  }
  for (const f of flags.filter ?? []) {
    const filter = parseFilter(f, view);
    view = withRows(view, (r) => rowPasses(r, filter));
  }
  if (flags.over) view = aggregateOver(view, flags.over);
  const means = (t: ResultsTable): string[] => metricColumnsOf(t).filter((m) => !m.endsWith(STD_SUFFIX));
  let metrics: string[];
  if (flags.metric?.length) {
    metrics = [];
    for (const name of flags.metric) {
      const found = matchMetric(view, name).filter((m) => !m.endsWith(STD_SUFFIX));
      if (found.length === 0) resolveMetric(view, name, '--metric'); // throws, naming the metrics
      for (const m of found) if (!metrics.includes(m)) metrics.push(m);
    }
  } else {
    const varying = printableColumns({ ...view, columns: ['point', ...view.columns.slice(1, 1 + view.paramColumns), ...means(view)] }, view.paramColumns).slice(1 + view.paramColumns);
    const depth = (m: string): number => m.split('.').length;
    metrics = [...varying].sort((a, b) => depth(a) - depth(b));
  }
  const sortBy = flags.sort ? resolveMetric(view, flags.sort, '--sort') : undefined;
  const bestBy = flags.best ? resolveMetric(view, flags.best, '--best') : undefined;
  const best = bestBy ?? sortBy ?? defaultMetric({ ...view, columns: ['point', ...view.columns.slice(1, 1 + view.paramColumns), ...means(view)] });
  if (sortBy) view = sortByMetric(view, sortBy);
  if (bestBy) {
    const row = bestRow(view, bestBy);
    view = withRows(view, (r) => r === row);
  }
  // The judging metric first, so that it is the column that always fits.
  if (best && !flags.metric?.length) metrics = [best, ...metrics.filter((m) => m !== best)];
  return { full, view, metrics, best };
}

async function writeFiles(dir: string, name: string, table: ResultsTable): Promise<string> {
  await mkdir(dir, { recursive: true });
  const base = join(dir, name);
  await writeFile(`${base}.csv`, toCsv(table));
  await writeFile(`${base}.json`, toJson(table));
  return base;
}

/**
 * After a single-point run: `results/<name>.csv` and `.json` brought up to date with every point of
 * the lockfile (nothing is written when no point has metrics).
 */
export async function writeResultsFiles(p: Plan, store: Store, lock: Lockfile): Promise<void> {
  const full = await collectResults(lock, p.registry, store);
  if (metricColumnsOf(full).length > 0) await writeFiles(resultsDir(p.file.baseDir), p.file.name, full);
}

/**
 * The results of the pipeline's lockfile (`lock` when the caller has it): every point written to
 * `<dir>/<name>.csv` and `.json` (and the aggregated table to `<name>.over-<axis>.*` with --over),
 * the view printed as a table fitted to the terminal, or as CSV or JSON on stdout.
 */
export async function printResults(p: Plan, store: Store, flags: ResultsFlags, lock?: Lockfile): Promise<void> {
  lock ??= await readLockfile(lockfilePath(p.file.path));
  if (!lock) throw new UsageError(`no lockfile for ${p.file.path}: run the pipeline first`);
  const { full, view, metrics, best } = await resultsView(p, store, lock, flags);
  const dir = flags.out ? resolve(flags.out) : resultsDir(p.file.baseDir);
  const base = await writeFiles(dir, p.file.name, full);
  if (view.over) await writeFiles(dir, `${p.file.name}.over-${view.over}`, view);
  // A metrics object that cannot be read is named with why, and the command fails (on stderr when
  // stdout carries JSON or CSV).
  const unreadable = full.unreadable ?? [];
  if (unreadable.length) process.exitCode = 1;
  const unreadableLines = unreadable.map((u) => `cannot read the metrics of ${u} (run the pipeline to recompute it)\n`);
  if (flags.json || flags.csv) {
    const picked = flags.metric?.length ? withMetrics(view, metrics) : view;
    process.stdout.write(flags.json ? toJson(picked) : toCsv(picked));
    for (const line of unreadableLines) process.stderr.write(pc.red(line));
    return;
  }
  const { text, hidden } = renderTable(view, { width: terminalWidth(), best, metrics });
  process.stdout.write(`${text}\n`);
  const notes: string[] = [];
  if (best && view.rows.length > 1) notes.push(`* best ${best}${view.over ? ` (mean over ${view.over})` : ''}`);
  if (hidden.length) notes.push(`${hidden.length} more metric column(s) (--metric NAME to choose; --csv or the files for all)`);
  const equal = metricColumnsOf(full).length - (flags.metric?.length ? metricColumnsOf(full).length : metrics.length + hidden.length);
  if (!flags.metric?.length && !view.over && equal > 0) notes.push(`${equal} metric(s) equal at every point are only in the files`);
  if (notes.length) process.stdout.write(pc.dim(`${notes.join('; ')}\n`));
  for (const line of unreadableLines) process.stdout.write(pc.red(line));
  const notRun = view.missing.filter((pt) => !unreadable.some((u) => u.includes(` at ${pt}: `)));
  if (notRun.length) process.stdout.write(pc.yellow(`no metrics yet for: ${notRun.join(', ')}\n`));
  process.stdout.write(pc.dim(`written ${base}.csv and ${base}.json\n`));
}

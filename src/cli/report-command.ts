// `sieve report`: the results of the pipeline's lockfile as one self-contained HTML page.
import { resolve } from 'node:path';
import { reportHtml, type ReportInput } from '../reporters/report.js';
import { UsageError } from '../runtime/errors.js';
import { lockfilePath, readLockfile, type LockPoint } from '../runtime/results/lockfile.js';
import { bestRow } from '../runtime/results/results.js';
import { decodeArtifact } from '../runtime/store/artifact.js';
import { writeFileAtomic } from '../runtime/store/atomic-file.js';
import type { Json } from '../runtime/tensor.js';
import { planForLockfile, type PlanFlags } from './context.js';
import type { Store } from '../runtime/store/store.js';
import { commandStore, type CacheFlags } from './defaults.js';
import { resultsView } from './results-view.js';

export interface ReportFlags extends PlanFlags, CacheFlags {
  output?: string;
  metric?: string[];
  over?: string;
  filter?: string[];
  point?: string;
}

/** How many metrics are plotted when none is named. */
const DEFAULT_PLOTTED = 4;

const isObject = (v: Json | undefined): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isMatrix = (v: Json | undefined): v is (number[] | null)[] =>
  Array.isArray(v) && v.length > 0 && v.every((row) => row === null || (Array.isArray(row) && row.every((x) => typeof x === 'number' || x === null)));

/**
 * What a point's JSON outputs hold for the per-point plots: per-class rows and a confusion matrix
 * (an `evaluate` node's metrics), and a realised noise transition matrix (a `noise-inject` report).
 */
async function pointDetail(store: Store, point: LockPoint, id: string): Promise<NonNullable<ReportInput['detail']>> {
  const detail: NonNullable<ReportInput['detail']> = { point: id };
  let classes: string[] | undefined;
  for (const rec of Object.values(point.nodes)) {
    for (const ref of Object.values(rec.outputs)) {
      if (ref.kind !== 'json' || ref.size > 64 * 1024 * 1024) continue;
      const bytes = await store.read(ref).catch(() => undefined);
      if (!bytes) continue;
      const v = decodeArtifact(ref, bytes) as Json;
      if (!isObject(v)) continue;
      const rows = Array.isArray(v.per_class) ? v.per_class.filter(isObject) : [];
      if (rows.length > 0 && !classes) classes = rows.map((r) => String(r.class));
      if (rows.some((r) => typeof r.selection_precision === 'number' || typeof r.selection_recall === 'number') && !detail.perClass) {
        detail.perClass = rows;
        classes = rows.map((r) => String(r.class));
      }
      if (isObject(v.confusion) && isMatrix(v.confusion.matrix) && !detail.confusion) {
        detail.confusion = { matrix: v.confusion.matrix as number[][], classes: [] };
      }
      if (isMatrix(v.transition_matrix) && !detail.transition) detail.transition = { matrix: v.transition_matrix, classes: [] };
    }
  }
  if (detail.confusion) detail.confusion.classes = classes ?? [];
  if (detail.transition) detail.transition.classes = classes ?? [];
  return detail;
}

export async function reportCommand(pipeline: string | undefined, flags: ReportFlags): Promise<void> {
  const p = await planForLockfile(pipeline, flags);
  const lock = await readLockfile(lockfilePath(p.file.path));
  if (!lock) throw new UsageError(`no lockfile for ${p.file.path}: run the pipeline first`);
  const store = commandStore(flags, p.file);
  const { view, metrics, best } = await resultsView(p, store, lock, { metric: flags.metric, over: flags.over, filter: flags.filter });
  const plotted = flags.metric?.length ? metrics : metrics.slice(0, DEFAULT_PLOTTED);
  const bestPoint = best ? bestRow(view, best)?.point : undefined;
  // Per-point plots: the chosen point, else the best one (the best of the raw points when aggregated).
  let detailId = flags.point;
  if (detailId === undefined) {
    detailId = view.over ? undefined : typeof bestPoint === 'string' ? bestPoint : undefined;
    if (detailId === undefined) {
      const raw = await resultsView(p, store, lock, { filter: flags.filter });
      const b = raw.best ? bestRow(raw.view, raw.best)?.point : undefined;
      detailId = typeof b === 'string' ? b : Object.keys(lock.points)[0];
    }
  }
  if (detailId !== undefined && !lock.points[detailId]) {
    throw new UsageError(`--point ${detailId}: no such point in the lockfile (points: ${Object.keys(lock.points).slice(0, 10).join(', ')})`);
  }
  const detail = detailId !== undefined ? await pointDetail(store, lock.points[detailId], detailId) : undefined;
  const notes = view.missing.length ? [`no metrics yet for: ${view.missing.join(', ')}`] : [];
  if (!flags.metric?.length && metrics.length > plotted.length) notes.push(`${metrics.length - plotted.length} more varying metric(s) are in the table; plot them with --metric`);
  const html = await reportHtml({
    pipeline: p.file.name, time: new Date().toISOString(), table: view, metrics, plotted, best,
    bestPoint: typeof bestPoint === 'string' ? bestPoint : undefined, detail, notes,
  });
  await writeFileAtomic(resolve(flags.output ?? 'report.html'), html);
  process.stdout.write(`written ${flags.output ?? 'report.html'} (${view.rows.length} row(s), ${plotted.length} metric(s) plotted)\n`);
}

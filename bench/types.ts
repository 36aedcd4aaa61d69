// One row of a benchmark table. Every measurement that has a target is taken beside its baseline
// in the same run, so the ratio means something on whatever machine runs it.
export interface BenchRow {
  /** Which benchmark (e.g. "embed"). */
  bench: string;
  /** What was measured (e.g. "node images/s"). */
  metric: string;
  value: number;
  unit: string;
  /** The same quantity for the baseline measured in the same run, if any. */
  baseline?: number;
  /** value / baseline (or as the target defines it). */
  ratio?: number;
  /** The target in words, e.g. ">= 0.90 of bare session". */
  target?: string;
  /** Whether the target was met. */
  ok?: boolean;
}

export interface BenchOptions {
  /** Smaller sizes for a quick smoke run (CI); the full sizes otherwise. */
  quick: boolean;
  /** A scratch directory the bench may use and delete. */
  workDir: string;
}

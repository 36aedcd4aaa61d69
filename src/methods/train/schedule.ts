// Learning-rate schedules, evaluated per optimisation step. Progress is measured in (fractional)
// epochs rather than steps because MixFix changes the training-set size, hence the number of steps,
// from one epoch to the next; with a fixed set this is exactly the per-step cosine of torch.

export type LrSchedule = { kind: 'cosine' } | { kind: 'step'; stepSize: number; gamma: number };

export interface ScheduleConfig {
  baseLr: number;
  epochs: number;
  /** Linear ramp from ~0 to baseLr over this many epochs (0 = none). */
  warmupEpochs: number;
  schedule: LrSchedule;
}

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

export function checkSchedule(cfg: ScheduleConfig): void {
  if (!(cfg.baseLr >= 0)) throw new ScheduleError(`lr must be ≥ 0, got ${cfg.baseLr}`);
  if (!(cfg.warmupEpochs >= 0) || (cfg.warmupEpochs > 0 && cfg.warmupEpochs >= cfg.epochs)) {
    throw new ScheduleError(`warmup_epochs must be in [0, epochs) = [0, ${cfg.epochs}), got ${cfg.warmupEpochs}`);
  }
  if (cfg.schedule.kind === 'step') {
    if (!Number.isInteger(cfg.schedule.stepSize) || cfg.schedule.stepSize < 1) {
      throw new ScheduleError(`step_size must be a positive integer, got ${cfg.schedule.stepSize}`);
    }
    if (!(cfg.schedule.gamma > 0)) throw new ScheduleError(`gamma must be > 0, got ${cfg.schedule.gamma}`);
  }
}

/**
 * The learning rate of step `batch` (0-based) of `batchesInEpoch` in epoch `epoch` (0-based).
 * cosine: baseLr·½(1 + cos(π·t)) with t the fraction of post-warmup training done before the step,
 * so the first step uses baseLr and the rate reaches 0 after the last one.
 * step: baseLr·gamma^⌊epoch / stepSize⌋ (torch StepLR stepped per epoch).
 * Warmup: baseLr·(epochs done after this step)/warmupEpochs, so its last step uses baseLr.
 */
export function learningRate(cfg: ScheduleConfig, epoch: number, batch: number, batchesInEpoch: number): number {
  const { baseLr, epochs, warmupEpochs, schedule } = cfg;
  if (epoch < warmupEpochs) return (baseLr * (epoch + (batch + 1) / batchesInEpoch)) / warmupEpochs;
  if (schedule.kind === 'step') return baseLr * schedule.gamma ** Math.floor(epoch / schedule.stepSize);
  const t = (epoch + batch / batchesInEpoch - warmupEpochs) / (epochs - warmupEpochs);
  return baseLr * 0.5 * (1 + Math.cos(Math.PI * t));
}

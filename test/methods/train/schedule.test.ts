import { describe, expect, it } from 'vitest';
import { checkSchedule, learningRate, ScheduleError, type ScheduleConfig } from '../../../src/methods/train/schedule.js';

const cosine: ScheduleConfig = { baseLr: 0.02, epochs: 4, warmupEpochs: 0, schedule: { kind: 'cosine' } };

describe('learningRate', () => {
  it('cosine starts at the base rate, halves at mid-training and decays towards 0 at the last step', () => {
    const batches = 5;
    const all: number[] = [];
    for (let e = 0; e < cosine.epochs; e++) for (let b = 0; b < batches; b++) all.push(learningRate(cosine, e, b, batches));
    expect(all[0]).toBe(0.02);
    expect(all[10]).toBeCloseTo(0.01, 12); // step 10 of 20: t = 0.5
    // Step s of S uses base·½(1 + cos(π s/S)).
    expect(all[19]).toBeCloseTo(0.02 * 0.5 * (1 + Math.cos((Math.PI * 19) / 20)), 15);
    expect(all[19]).toBeLessThan(0.0002);
    for (let s = 1; s < all.length; s++) expect(all[s]).toBeLessThan(all[s - 1]);
    // Symmetric around the middle: lr(s) + lr(S − s) = base.
    expect(all[5] + all[15]).toBeCloseTo(0.02, 12);
  });

  it('step multiplies by gamma every step_size epochs, constant within an epoch', () => {
    const cfg: ScheduleConfig = { baseLr: 0.1, epochs: 7, warmupEpochs: 0, schedule: { kind: 'step', stepSize: 3, gamma: 0.1 } };
    const perEpoch = [0, 1, 2, 3, 4, 5, 6].map((e) => learningRate(cfg, e, 2, 4));
    expect(perEpoch.slice(0, 3)).toEqual([0.1, 0.1, 0.1]);
    for (const lr of perEpoch.slice(3, 6)) expect(lr).toBeCloseTo(0.01, 15);
    expect(perEpoch[6]).toBeCloseTo(0.001, 15);
  });

  it('warmup ramps linearly to the base rate, then cosine runs over the remaining epochs', () => {
    const cfg: ScheduleConfig = { ...cosine, epochs: 5, warmupEpochs: 1 };
    expect(learningRate(cfg, 0, 0, 4)).toBeCloseTo(0.005, 15);
    expect(learningRate(cfg, 0, 1, 4)).toBeCloseTo(0.01, 15);
    expect(learningRate(cfg, 0, 3, 4)).toBeCloseTo(0.02, 15);
    expect(learningRate(cfg, 1, 0, 4)).toBe(0.02);
    expect(learningRate(cfg, 3, 0, 4)).toBeCloseTo(0.01, 12); // half of the 4 post-warmup epochs
  });

  it('rejects bad schedules with the parameter named', () => {
    expect(() => checkSchedule({ ...cosine, warmupEpochs: 4 })).toThrow(/warmup_epochs/);
    expect(() => checkSchedule({ ...cosine, schedule: { kind: 'step', stepSize: 0, gamma: 0.1 } })).toThrow(ScheduleError);
    expect(() => checkSchedule({ ...cosine, schedule: { kind: 'step', stepSize: 2, gamma: 0 } })).toThrow(/gamma/);
  });
});

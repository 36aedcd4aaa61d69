import { describe, expect, it } from 'vitest';
import {
  accuracy, confusionMatrix, expectedCalibrationError, meanConfidence, perClassAccuracy, perClassCounts, relabelQuality, selectionQuality,
} from '../../src/methods/metrics.js';

const pred = Int32Array.from([0, 1, 1, 2, 2, 0]);
const truth = Int32Array.from([0, 1, 2, 2, 1, 0]);

describe('classification metrics', () => {
  it('accuracy, confusion (rows true), per-class accuracy', () => {
    expect(accuracy(pred, truth)).toBeCloseTo(4 / 6, 12);
    expect(Array.from(confusionMatrix(pred, truth, 3))).toEqual([2, 0, 0, 0, 1, 1, 0, 1, 1]);
    expect(perClassAccuracy(pred, truth, 3)).toEqual([1, 0.5, 0.5]);
    expect(perClassAccuracy(Int32Array.from([0]), Int32Array.from([0]), 2)[1]).toBeNaN();
    expect(accuracy(new Int32Array(0), new Int32Array(0))).toBeNaN();
  });

  it('expected calibration error with 15 equal-width bins', () => {
    // Confidences .875 (right), .875 (wrong), .75 (right), .5625 (right), .5625 (wrong) → bins 13, 13, 11, 8, 8:
    // 2/5·|.5 − .875| + 1/5·|1 − .75| + 2/5·|.5 − .5625| = .15 + .05 + .025 = .225.
    const probs = Float32Array.from([0.875, 0.125, 0.875, 0.125, 0.25, 0.75, 0.5625, 0.4375, 0.4375, 0.5625]);
    const labels = Int32Array.from([0, 1, 1, 0, 0]);
    expect(expectedCalibrationError(probs, labels, 2)).toBeCloseTo(0.225, 9);
    // One bin: |accuracy − mean confidence| = |3/5 − (.875·2 + .75 + .5625·2)/5| = |.6 − .725|.
    expect(expectedCalibrationError(probs, labels, 2, 1)).toBeCloseTo(0.125, 9);
    expect(meanConfidence(probs, 2)).toBeCloseTo(0.725, 7);
    expect(() => meanConfidence(probs, 3)).toThrow(/multiple of K = 3/);
    // A bin is (lo, hi]: with 2 bins, confidence exactly 0.5 (right) sits in (0, .5], 0.75 (wrong) in (.5, 1]:
    // ½·|1 − .5| + ½·|0 − .75| = .625 (one shared bin would give |.5 − .625| = .125).
    const edge = Float32Array.from([0.5, 0.5, 0.75, 0.25]);
    expect(expectedCalibrationError(edge, Int32Array.from([0, 1]), 2, 2)).toBeCloseTo(0.625, 12);
  });
});

describe('selection and relabel quality', () => {
  it('positive = selected, truth = noisy label equals true label', () => {
    const noisy = Int32Array.from([0, 1, 2, 0, 1, 2]);
    const trueL = Int32Array.from([0, 1, 0, 0, 2, 2]); // samples 2 and 4 are mislabelled
    const mask = Uint8Array.from([1, 1, 1, 0, 0, 0]);
    const q = selectionQuality(mask, noisy, trueL);
    expect(q).toMatchObject({ truePositives: 2, falsePositives: 1, falseNegatives: 2, trueNegatives: 1 });
    expect(q.precision).toBeCloseTo(2 / 3, 12);
    expect(q.recall).toBeCloseTo(0.5, 12);
    expect(q.f1).toBeCloseTo(4 / 7, 12);
    expect(q.noiseRate).toBeCloseTo(2 / 6, 12);
    const none = selectionQuality(new Uint8Array(6), noisy, trueL);
    expect(none.precision).toBeNaN();
    expect(none.f1).toBe(0);
  });

  it('relabel accuracy over the relabelled samples', () => {
    const newL = Int32Array.from([0, 2, 0, 1]);
    const noisy = Int32Array.from([0, 1, 1, 0]);
    const trueL = Int32Array.from([0, 2, 1, 0]);
    const r = relabelQuality(newL, Uint8Array.from([0, 1, 1, 1]), trueL, noisy);
    expect(r).toEqual({ relabelled: 3, correct: 1, accuracy: 1 / 3, wasClean: 2 });
    expect(relabelQuality(newL, new Uint8Array(4), trueL).accuracy).toBeNaN();
  });

  it('per-class counts, optionally masked', () => {
    expect(perClassCounts(truth, 4)).toEqual([2, 2, 2, 0]);
    expect(perClassCounts(truth, 3, Uint8Array.from([1, 0, 1, 1, 0, 0]))).toEqual([1, 0, 2]);
    expect(() => perClassCounts(truth, 2)).toThrow(/labels\[2\] = 2 is outside \[0, 2\)/);
  });
});

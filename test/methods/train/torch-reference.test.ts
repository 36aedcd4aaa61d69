// Sieve's linear heads against PyTorch: test/fixtures/train-reference.json holds small problems, the
// draws Sieve's seeded RNG made for them and the weights torch.optim.SGD reached from the same initial
// vector and draws (scripts/train-reference.ts regenerates it). Both head engines must land within
// 1e-5 of PyTorch's weights, and take exactly the recorded draws.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend, type Tf } from '../../../src/methods/train/backend.js';
import { trainLinearHead } from '../../../src/methods/train/linear-head.js';
import { trainClassifier, type StepDraws, type TrainResult } from '../../../src/methods/train/trainer.js';
import { referenceOptions, type ReferenceFixture } from '../../helpers/train-reference.js';

const fixture = JSON.parse(readFileSync(new URL('../../fixtures/train-reference.json', import.meta.url), 'utf8')) as ReferenceFixture;

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend('cpu')).tf;
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('linear heads against a PyTorch reference', () => {
  it('covers linear, cosine and text-init heads, CE and GCE, mixup, bias and learned scales', () => {
    expect(fixture.problems.map((p) => p.head.kind)).toEqual(expect.arrayContaining(['linear', 'cosine', 'text-init']));
    expect(fixture.problems.some((p) => p.head.learn_scale && p.mixup && p.head.bias)).toBe(true);
    expect(fixture.problems.every((p) => p.steps.length === p.epochs * Math.ceil(p.n / p.batch_size))).toBe(true);
  });

  for (const p of fixture.problems) {
    for (const engine of ['linalg', 'tfjs-cpu'] as const) {
      it(`${p.name} (${engine}): same draws, weights within 1e-5 of PyTorch's`, () => {
        const { options, data } = referenceOptions(p);
        const steps: StepDraws[] = [];
        const opts = { ...options, onStep: (s: StepDraws) => steps.push({ ...s, indices: Int32Array.from(s.indices) }) };
        const r: TrainResult = engine === 'linalg' ? trainLinearHead(data, opts) : trainClassifier(tf, data, opts);
        expect(steps.length).toBe(p.steps.length);
        steps.forEach((s, i) => {
          const ref = p.steps[i];
          expect(Array.from(s.indices)).toEqual(ref.indices);
          expect(s.mix ? s.mix.lambda : null).toBe(ref.lambda);
          expect(s.mix ? Array.from(s.mix.partner) : null).toEqual(ref.partner);
          expect(s.lr).toBe(ref.lr);
        });
        expect(maxAbsDiff(trainLinearHead(data, { ...options, epochs: 0 }).params, p.init)).toBe(0);
        expect(maxAbsDiff(r.params, p.torch.params)).toBeLessThan(1e-5);
        // Training moved the weights well beyond that tolerance.
        expect(maxAbsDiff(p.init, p.torch.params)).toBeGreaterThan(1e-2);
      });
    }
  }
});

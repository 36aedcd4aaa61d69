// Writes test/fixtures/train-reference.json: small training problems for the linear heads, each with
// the draws Sieve's seeded RNG makes for it (batch indices, mixup λ and partners) and the learning
// rate of every step, and the weights PyTorch reaches from the same initial parameters and draws
// (scripts/train-reference.py). test/methods/train/torch-reference.test.ts trains the same problems
// with both of Sieve's head engines and compares.
//
//   npx tsx scripts/train-reference.ts        (needs /usr/bin/python3 with torch: Debian's python3-torch)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainLinearHead } from '../src/methods/train/linear-head.js';
import { createRng } from '../src/random/rng.js';
import {
  referenceOptions, type ReferenceFixture, type ReferenceProblem, type ReferenceSpec,
} from '../test/helpers/train-reference.js';

const SPECS: ReferenceSpec[] = [
  { name: 'linear-ce-plain', head: { kind: 'linear', bias: false, learn_scale: false, scale: 1 }, loss: { kind: 'ce' }, mixup: null, sampler: 'shuffle', lr: 0.5, schedule: 'cosine', warmup_epochs: 0, weighted: false },
  { name: 'linear-gce-bias-scale-mixup-balanced', head: { kind: 'linear', bias: true, learn_scale: false, scale: 1 / 0.07 }, loss: { kind: 'gce', q: 0.7 }, mixup: { alpha: 1 }, sampler: 'balanced', lr: 0.05, schedule: 'cosine', warmup_epochs: 0, weighted: true },
  { name: 'linear-ce-learned-scale', head: { kind: 'linear', bias: true, learn_scale: true, scale: 1 / 0.07 }, loss: { kind: 'ce' }, mixup: { alpha: 0.4 }, sampler: 'shuffle', lr: 0.05, schedule: 'step', warmup_epochs: 1, weighted: false },
  { name: 'cosine-ce-learned-scale-mixup', head: { kind: 'cosine', bias: true, learn_scale: true, scale: 1 / 0.07 }, loss: { kind: 'ce' }, mixup: { alpha: 1 }, sampler: 'shuffle', lr: 0.1, schedule: 'cosine', warmup_epochs: 0, weighted: true },
  { name: 'cosine-gce-fixed-scale', head: { kind: 'cosine', bias: false, learn_scale: false, scale: 10 }, loss: { kind: 'gce', q: 0.5 }, mixup: null, sampler: 'balanced', lr: 0.2, schedule: 'cosine', warmup_epochs: 0, weighted: false },
  { name: 'text-init-ce-learned-scale', head: { kind: 'text-init', bias: true, learn_scale: true, scale: 100, temperature: 0.01 }, loss: { kind: 'ce' }, mixup: { alpha: 1 }, sampler: 'shuffle', lr: 0.01, schedule: 'cosine', warmup_epochs: 0, weighted: false },
];

const N = 48, D = 12, K = 4, EPOCHS = 3, BATCH = 16;

function unitRows(rng: ReturnType<typeof createRng>, rows: number, d: number, shift: (r: number) => number[]): Float32Array {
  const out = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const mean = shift(r);
    let ss = 0;
    const v = Array.from({ length: d }, (_, j) => mean[j] + rng.normal());
    for (const x of v) ss += x * x;
    v.forEach((x, j) => { out[r * d + j] = x / Math.sqrt(ss); });
  }
  return out;
}

function problem(spec: ReferenceSpec, index: number): ReferenceProblem {
  const rng = createRng(100 + index, 'reference-data');
  const centres = Array.from({ length: K }, () => Array.from({ length: D }, () => 1.5 * rng.normal()));
  const labels = Int32Array.from({ length: N }, (_, i) => (i * 7 + (rng.next() < 0.2 ? 1 : 0)) % K);
  const features = unitRows(rng, N, D, (r) => centres[labels[r] % K]);
  const text = spec.head.kind === 'text-init' ? unitRows(rng, K, D, (c) => centres[c]) : undefined;
  const weights = Float32Array.from({ length: N }, () => (spec.weighted ? 0.25 + rng.next() : 1));
  const base: ReferenceProblem = {
    ...spec, seed: 7 + index, n: N, d: D, k: K, epochs: EPOCHS, batch_size: BATCH, momentum: 0.9, weight_decay: 5e-4,
    features: Array.from(features), labels: Array.from(labels), sample_weights: Array.from(weights),
    text_features: text ? Array.from(text) : undefined, init: [], steps: [], torch: { params: [], losses: [] },
  };
  // Sieve's own run records the draws and the initial vector (its step-0 parameters come from initHead).
  const steps: ReferenceProblem['steps'] = [];
  const { options, data } = referenceOptions(base);
  const init = trainLinearHead(data, { ...options, epochs: 0 }).params;
  trainLinearHead(data, {
    ...options,
    onStep: (s) => steps.push({ indices: Array.from(s.indices), lambda: s.mix ? s.mix.lambda : null, partner: s.mix ? Array.from(s.mix.partner) : null, lr: s.lr }),
  });
  return { ...base, init: Array.from(init), steps };
}

const problems = SPECS.map(problem);
const dir = mkdtempSync(join(tmpdir(), 'sieve-train-reference-'));
try {
  writeFileSync(join(dir, 'problems.json'), JSON.stringify(problems));
  const script = fileURLToPath(new URL('./train-reference.py', import.meta.url));
  execFileSync('/usr/bin/python3', [script, join(dir, 'problems.json'), join(dir, 'results.json')], { stdio: 'inherit' });
  const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { torch: string; results: { name: string; params: number[]; losses: number[] }[] };
  const fixture: ReferenceFixture = {
    generated_by: 'scripts/train-reference.ts + scripts/train-reference.py',
    torch: results.torch,
    problems: problems.map((p, i) => ({ ...p, torch: { params: results.results[i].params, losses: results.results[i].losses } })),
  };
  const out = fileURLToPath(new URL('../test/fixtures/train-reference.json', import.meta.url));
  writeFileSync(out, `${JSON.stringify(fixture)}\n`);
  process.stdout.write(`wrote ${out} (${problems.length} problems, torch ${results.torch})\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

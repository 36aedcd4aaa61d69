// Seeded K-class Gaussian clusters for training tests.
import { createRng } from '../../src/random/rng.js';

/** K Gaussian clusters in R^D around fixed random centres (|centre| ≈ 1), noise `spread`/√D per axis. */
export function gaussianClusters(seed: number, k: number, perClass: number, d: number, spread: number): { x: Float32Array; y: Int32Array; n: number } {
  const c = createRng(0, 'centres');
  const centres = Float32Array.from({ length: k * d }, () => c.normal() / Math.sqrt(d));
  const rng = createRng(seed, 'samples');
  const n = k * perClass;
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % k;
    for (let j = 0; j < d; j++) x[i * d + j] = centres[y[i] * d + j] + (spread * rng.normal()) / Math.sqrt(d);
  }
  return { x, y, n };
}

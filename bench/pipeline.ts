// The quickstart pipeline end to end as a user runs it (`sieve run`, a CLI process): cold (empty
// cache) against warm (everything cached), and a rerun after one threshold change.
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { BenchOptions, BenchRow } from './types.js';

const repo = fileURLToPath(new URL('..', import.meta.url));

async function timed(args: string[], cwd: string): Promise<number> {
  const t0 = performance.now();
  await execa('node', [join(repo, 'bin/sieve.cjs'), ...args], { cwd });
  return performance.now() - t0;
}

export async function benchPipeline(opts: BenchOptions): Promise<BenchRow[]> {
  const pipeline = join(opts.workDir, 'quickstart.yaml');
  await copyFile(join(repo, 'pipelines/quickstart.yaml'), pipeline);
  const cache = join(opts.workDir, 'cache');
  const base = ['run', pipeline, '--cache', cache, '--no-sweep'];
  const cold = await timed(base, opts.workDir);
  const warm: number[] = [];
  for (let i = 0; i < 3; i++) warm.push(await timed(base, opts.workDir));
  warm.sort((a, b) => a - b);
  const changed = await timed([...base, '-p', 'relabel2.absorb=0.7'], opts.workDir);
  const gridCold = await timed(['run', pipeline, '--cache', join(opts.workDir, 'grid-cache')], opts.workDir);
  return [
    { bench: 'pipeline', metric: 'quickstart cold (CLI, one point)', value: cold, unit: 'ms' },
    { bench: 'pipeline', metric: 'quickstart warm, all cached (median of 3)', value: warm[1], unit: 'ms', baseline: cold, ratio: warm[1] / cold },
    { bench: 'pipeline', metric: 'quickstart after relabel2.absorb change', value: changed, unit: 'ms', baseline: cold, ratio: changed / cold },
    { bench: 'pipeline', metric: 'quickstart 3×3 threshold grid, cold', value: gridCold, unit: 'ms', target: '< 60 s on 2 cores', ok: gridCold < 60_000 },
  ];
}

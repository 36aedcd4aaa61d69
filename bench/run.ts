// `npm run bench`: runs every benchmark, prints one table and writes bench/results/<date>.json and
// bench/results/latest.json. `--quick` uses small sizes (a smoke run); `--only name[,name]` picks.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchOptions, BenchRow } from './types.js';

type Bench = (opts: BenchOptions) => Promise<BenchRow[]>;

const BENCHES: Record<string, () => Promise<Bench>> = {
  runtime: async () => (await import('./runtime.js')).benchRuntime,
  embed: async () => (await import('./embed.js')).benchEmbed,
  logreg: async () => (await import('./logreg.js')).benchLogreg,
  pipeline: async () => (await import('./pipeline.js')).benchPipeline,
  sharing: async () => (await import('./sharing.js')).benchSharing,
  train: async () => (await import('./train.js')).benchTrain,
  prompt: async () => (await import('./prompt.js')).benchPrompt,
  results: async () => (await import('./results.js')).benchResults,
  planning: async () => (await import('./planning.js')).benchPlanning,
  slurm: async () => (await import('./slurm.js')).benchSlurm,
  bullmq: async () => (await import('./bullmq.js')).benchBullmq,
};

function fmt(v: number | undefined): string {
  if (v === undefined) return '';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 1 ? v.toFixed(3) : v.toPrecision(3);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const onlyArg = args.find((a) => a.startsWith('--only='))?.slice(7) ?? (args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined);
  const names = onlyArg ? onlyArg.split(',') : Object.keys(BENCHES);
  const rows: BenchRow[] = [];
  const errors: { bench: string; error: string }[] = [];
  for (const name of names) {
    const load = BENCHES[name];
    if (!load) throw new Error(`unknown benchmark ${name} (known: ${Object.keys(BENCHES).join(', ')})`);
    const workDir = await mkdtemp(join(tmpdir(), `sieve-bench-${name}-`));
    process.stderr.write(`bench ${name}${quick ? ' (quick)' : ''}...\n`);
    try {
      rows.push(...(await (await load())({ quick, workDir })));
    } catch (e) {
      errors.push({ bench: name, error: (e as Error).stack ?? String(e) });
      process.stderr.write(`bench ${name} failed: ${(e as Error).message}\n`);
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }
  const header = ['bench', 'metric', 'value', 'unit', 'baseline', 'ratio', 'target', 'ok'];
  const table = rows.map((r) => [r.bench, r.metric, fmt(r.value), r.unit, fmt(r.baseline), fmt(r.ratio), r.target ?? '', r.ok === undefined ? '' : r.ok ? 'yes' : 'NO']);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  process.stdout.write(`${[line(header), line(widths.map((w) => '-'.repeat(w))), ...table.map(line)].join('\n')}\n`);
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  const out = { time: new Date().toISOString(), quick, machine, rows, errors };
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  const text = `${JSON.stringify(out, null, 1)}\n`;
  await writeFile(new URL('./results/latest.json', import.meta.url), text);
  await writeFile(new URL(`./results/${out.time.replace(/[:.]/g, '-')}.json`, import.meta.url), text);
  process.stdout.write(`written bench/results/latest.json\n`);
  if (errors.length > 0) process.exitCode = 1;
}

await main();

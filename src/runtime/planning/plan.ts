// A plan: the pipeline's nodes for every grid point, validated, with params resolved and identical
// instances merged across points. `loadPlan` takes it from the plan cache when it can and otherwise
// plans (planner.ts: YAML, schemas, sweep), which is loaded only then.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { UsageError, ValidationError } from '../errors.js';
import { peekCacheField } from './header.js';
import type { Plan, PlanInputs, PlanOptions } from './plan-types.js';
import { closest } from './suggest.js';
import { decodeUtf8 } from './utf8.js';

/** ": did you mean x.yaml?" for a pipeline file name with a typo, among the YAML files beside it. */
function suggestSibling(path: string): string {
  let names: string[];
  try {
    names = readdirSync(dirname(path)).filter((n) => /\.ya?ml$/i.test(n));
  } catch {
    return '';
  }
  const c = closest(basename(path), names);
  return c ? ` (did you mean ${resolve(dirname(path), c)}?)` : '';
}

export async function loadPlan(pipelinePath: string, options: PlanOptions): Promise<Plan> {
  const path = resolve(pipelinePath);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path); // small, and read before anything else can run: see Store.getAction
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`no such pipeline file: ${pipelinePath}${suggestSibling(path)}`);
    throw new UsageError(`cannot read pipeline ${pipelinePath}: ${code === 'EISDIR' ? 'a directory, not a file' : code ?? (e as Error).message}`);
  }
  const decoded = decodeUtf8(path, bytes);
  if ('diagnostic' in decoded) throw new ValidationError([decoded.diagnostic]);
  const text = decoded.text;
  if (!options.planCache) return (await import('./planner.js')).planFromText(path, text, options);
  const inputs = planInputs(path, text, options);
  const memo = options.planCache(peekCacheField(text));
  const hit = await memo.restore(inputs, options.registry, dirname(path));
  // The node types' static checks look at files too, which may have changed since: a problem means
  // planning again, which reports it located.
  if (hit && passesStaticChecks(hit, Boolean(options.checkFiles))) return hit;
  const plan = await (await import('./planner.js')).planFromText(path, text, options);
  // Saved only where the next run will look for it.
  if (options.planCache(plan.file.cache).dir === memo.dir) await memo.save(inputs, plan);
  return plan;
}

function passesStaticChecks(plan: Plan, files: boolean): boolean {
  const checked = new Set<unknown>();
  for (const n of plan.nodes.values()) {
    const check = n.registered.node.check;
    if (!check || checked.has(n.params)) continue;
    checked.add(n.params);
    if (check(n.params, { baseDir: plan.file.baseDir, connected: new Set(Object.keys(n.inputs)), files }).length > 0) return false;
  }
  return true;
}

/** What planning `text` (the file at absolute `path`) with `options` reads, besides the node types. */
export function planInputs(path: string, text: string, options: Omit<PlanOptions, 'registry'>): PlanInputs {
  const cliPlugins = options.plugins ?? [];
  return {
    path, text,
    overrides: options.overrides ?? [], grid: options.grid ?? [], zip: options.zip ?? [], noSweep: Boolean(options.noSweep),
    // Command-line plugins are relative to the working directory; without them, it does not matter.
    cliPlugins, cwd: cliPlugins.length > 0 ? process.cwd() : '',
  };
}


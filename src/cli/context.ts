// Planning the pipeline a command names, with the built-in node types and the command line's
// overrides and plugins.
import { dirname, resolve } from 'node:path';
import { builtinRegistry } from '../nodes/index.js';
import { ValidationError } from '../runtime/errors.js';
import { PlanCache } from '../runtime/planning/plan-cache.js';
import type { Plan } from '../runtime/planning/plan-types.js';
import { loadPlan } from '../runtime/planning/plan.js';
import { DEFAULT_PIPELINE, commandStore, type CacheFlags } from './defaults.js';

export interface PlanFlags {
  param?: string[];
  grid?: string[];
  zip?: string[];
  sweep?: boolean;
  plugin?: string[];
}

/**
 * Plans the pipeline, through the plan cache of the store it uses. `writesCache` says whether the
 * command will write to that store anyway (run); otherwise no cache directory is created for the memo.
 */
export async function planPipeline(pipeline: string | undefined, flags: PlanFlags & CacheFlags, writesCache = false): Promise<Plan> {
  const file = pipeline ?? DEFAULT_PIPELINE;
  const baseDir = dirname(resolve(file));
  const planCache = (declaredCache: string | undefined): PlanCache => {
    const store = commandStore(flags, { cache: declaredCache, baseDir });
    return new PlanCache(store.planCacheDir, writesCache ? undefined : store.root);
  };
  const plan = await loadPlan(file, {
    planCache,
    registry: builtinRegistry(),
    overrides: flags.param,
    grid: flags.grid,
    zip: flags.zip,
    noSweep: flags.sweep === false,
    plugins: flags.plugin,
    // The data and scripts a pipeline names must be there when nodes will run (they are checked, located, before anything runs).
    checkFiles: writesCache,
  });
  // What planning has to say (a `-p` that replaced a sweep axis): on stderr, so --json stays clean.
  for (const note of plan.file.notes ?? []) process.stderr.write(`${note}\n`);
  return plan;
}

/**
 * For commands that read the lockfile rather than the grid (`results`, `report`, `runs`): the
 * pipeline planned without its sweep section when that is valid (they need its node types, name and
 * cache, not a plan of every point), else as usual.
 */
export async function planForLockfile(pipeline: string | undefined, flags: PlanFlags & CacheFlags): Promise<Plan> {
  if (flags.sweep === false || flags.grid?.length || flags.zip?.length) return planPipeline(pipeline, flags);
  try {
    return await planPipeline(pipeline, { ...flags, sweep: false });
  } catch (e) {
    if (e instanceof ValidationError) return planPipeline(pipeline, flags);
    throw e;
  }
}

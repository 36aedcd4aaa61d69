// Resource hints: what one instance of a node needs (CPU cores, memory, GPUs, wall time). A node
// type declares them; a pipeline overrides them per node (`resources:`); the local executor runs the
// node types that declare them in worker threads (they are compute work), and the Slurm executor
// turns them into `sbatch` options. They are never part of a key: where a node runs does not change
// what it computes.

export interface ResourceHints {
  /** CPU cores one instance uses. */
  cpus?: number;
  /** Memory: a number of megabytes, or a size with a unit (`512M`, `4G`, `1T`; Slurm's units). */
  memory?: string | number;
  /** GPUs one instance uses. */
  gpus?: number;
  /** Wall-time limit: minutes, or Slurm's `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`. */
  time?: string | number;
}

/** JSON Schema of a `resources:` mapping (the pipeline's, per node; also the node types' own). */
export const resourcesSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Resource hints for one instance of this node (cluster executors request them); never part of the key.',
  properties: {
    cpus: { type: 'integer', minimum: 1, description: 'CPU cores.' },
    memory: {
      anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?\\s*[KkMmGgTt]?[Bb]?$' }],
      description: 'Memory: megabytes, or a size such as 512M, 4G.',
    },
    gpus: { type: 'integer', minimum: 0, description: 'GPUs.' },
    time: {
      anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^([0-9]+-)?[0-9]+(:[0-9]+){0,2}$' }],
      description: 'Wall-time limit: minutes, or MM:SS, HH:MM:SS, D-HH:MM:SS.',
    },
  },
} as const;

/** The hints of one instance: the pipeline's per-node override on top of the node type's own. */
export function mergeResources(declared: ResourceHints | undefined, override: ResourceHints | undefined): ResourceHints {
  const out: ResourceHints = { ...declared };
  for (const [k, v] of Object.entries(override ?? {})) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

const UNIT_MB: Record<string, number> = { k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 };

/** Memory in whole megabytes (rounded up); throws RangeError on a malformed size. */
export function memoryMb(memory: string | number): number {
  if (typeof memory === 'number') {
    if (!Number.isFinite(memory) || memory <= 0) throw new RangeError(`memory must be a positive number of MB, got ${memory}`);
    return Math.ceil(memory);
  }
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([KkMmGgTt]?)[Bb]?\s*$/.exec(memory);
  if (!m) throw new RangeError(`memory "${memory}" is not a size such as 512M or 4G`);
  const mb = Number(m[1]) * UNIT_MB[(m[2] || 'm').toLowerCase()];
  if (mb <= 0) throw new RangeError(`memory "${memory}" must be positive`);
  return Math.ceil(mb);
}

/** A wall-time limit in whole minutes (rounded up), from minutes or Slurm's time formats. */
export function timeMinutes(time: string | number): number {
  if (typeof time === 'number') {
    if (!Number.isFinite(time) || time <= 0) throw new RangeError(`time must be a positive number of minutes, got ${time}`);
    return Math.ceil(time);
  }
  const m = /^\s*(?:([0-9]+)-)?([0-9]+)(?::([0-9]+))?(?::([0-9]+))?\s*$/.exec(time);
  if (!m) throw new RangeError(`time "${time}" is not minutes, MM:SS, HH:MM:SS or D-HH:MM:SS`);
  const [days, a, b, c] = [m[1], m[2], m[3], m[4]].map((x) => (x === undefined ? undefined : Number(x)));
  let seconds: number;
  if (days !== undefined) seconds = days * 86400 + a! * 3600 + (b ?? 0) * 60 + (c ?? 0); // D-HH[:MM[:SS]]
  else if (c !== undefined) seconds = a! * 3600 + b! * 60 + c; // HH:MM:SS
  else if (b !== undefined) seconds = a! * 60 + b; // MM:SS
  else seconds = a! * 60; // minutes
  if (seconds <= 0) throw new RangeError(`time "${time}" must be positive`);
  return Math.ceil(seconds / 60);
}

/** Minutes as Slurm's `D-HH:MM:SS` (or `HH:MM:SS` under a day). */
export function formatSlurmTime(minutes: number): string {
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  const hms = `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00`;
  return d > 0 ? `${d}-${hms}` : hms;
}

/** Problems with hints (for node types' own declarations, which no schema checks). */
export function checkResources(r: ResourceHints): string[] {
  const out: string[] = [];
  if (r.cpus !== undefined && !(Number.isInteger(r.cpus) && r.cpus >= 1)) out.push(`cpus must be a positive integer, got ${r.cpus}`);
  if (r.gpus !== undefined && !(Number.isInteger(r.gpus) && r.gpus >= 0)) out.push(`gpus must be a non-negative integer, got ${r.gpus}`);
  for (const [name, parse] of [['memory', memoryMb], ['time', timeMinutes]] as const) {
    const v = r[name];
    if (v === undefined) continue;
    try {
      parse(v);
    } catch (e) {
      out.push((e as Error).message);
    }
  }
  return out;
}

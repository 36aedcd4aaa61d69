// Which backend a `train` node will use on this machine, decided without loading any of them (it
// runs whenever a key is computed, also for cache hits): the linear family on the project's own
// linear algebra (linear-head.ts), anything else on the first tfjs backend whose package is
// installed. The answer, with the version of what will run, is part of the node's key, so a cache
// hit is what this machine would compute.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { LINEAR_HEAD_KERNEL_VERSION, linearHeadFlavour } from './linear-head.js';

/** The tfjs backends, in the order `auto` tries them. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** linalg: the project's batched linear algebra (linear, cosine, text-init heads); else tfjs. */
export type TrainBackend = 'linalg' | BackendName;
export type TrainBackendChoice = 'auto' | TrainBackend;

/** How keys, lockfiles and `status` name each backend (the package that runs it). */
export const BACKEND_LABELS: Record<TrainBackend, string> = {
  linalg: 'linalg', 'tensorflow-gpu': 'tfjs-node-gpu', tensorflow: 'tfjs-node', wasm: 'wasm', cpu: 'cpu',
};

const PACKAGES: Record<BackendName, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu', tensorflow: '@tensorflow/tfjs-node', wasm: '@tensorflow/tfjs-backend-wasm', cpu: '@tensorflow/tfjs-core',
};

const require = createRequire(import.meta.url);

/** The installed version of a package, or undefined when it is not installed. */
function installedVersion(pkg: string): string | undefined {
  let main: string;
  try {
    main = require.resolve(pkg);
  } catch {
    return undefined;
  }
  for (let dir = dirname(main); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (json.name === pkg) return json.version ?? 'unknown';
    } catch {
      // no package.json here: keep walking up
    }
  }
  return 'unknown';
}

export interface ResolvedBackend {
  backend: TrainBackend;
  /** The version of what runs: a package version, or the linalg kernel's version and flavour. */
  version: string;
}

/**
 * Whether linalg trains this head: everything but mlp, and without Transductive CLIP's contrastive
 * term (its gradient comes from tfjs's automatic differentiation).
 */
export function linalgTrains(head: string, contrastive = false): boolean {
  return head !== 'mlp' && !contrastive;
}

/**
 * `auto`: linalg for the linear family, else the first tfjs backend whose package is installed
 * (tfjs-node-gpu, tfjs-node, wasm, cpu). A named backend resolves to itself, with version
 * "not installed" when its package is missing (running it then fails with the install command).
 */
export function resolveTrainBackend(choice: TrainBackendChoice, head: string, contrastive = false): ResolvedBackend {
  if (choice === 'linalg' || (choice === 'auto' && linalgTrains(head, contrastive))) {
    return { backend: 'linalg', version: `${LINEAR_HEAD_KERNEL_VERSION}-${linearHeadFlavour()}` };
  }
  if (choice !== 'auto') return { backend: choice, version: installedVersion(PACKAGES[choice]) ?? 'not installed' };
  for (const name of BACKEND_ORDER) {
    const version = installedVersion(PACKAGES[name]);
    if (version !== undefined) return { backend: name, version };
  }
  return { backend: 'cpu', version: 'not installed' };
}

/** The backend a key environment's label names. */
export function backendFromLabel(label: string): TrainBackend | undefined {
  return (Object.keys(BACKEND_LABELS) as TrainBackend[]).find((b) => BACKEND_LABELS[b] === label);
}

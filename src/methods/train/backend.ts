// Picks the tfjs backend at run time: the native TensorFlow bindings when installed (GPU build
// first), else the WebAssembly backend, else plain JavaScript. The native packages download
// libtensorflow when installed, so they are optional: we look for them with a dynamic import whose
// specifier is a variable (TypeScript then needs no type declarations for them).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tfjs from '@tensorflow/tfjs';
import { BACKEND_ORDER, type BackendName } from './backend-resolve.js';
import type { Tf } from './tf.js';

export { BACKEND_ORDER, type BackendName, type Tf };
export type BackendChoice = 'auto' | BackendName;

export interface SelectedBackend {
  name: BackendName;
  /** The name tfjs knows the backend by ('tensorflow', 'wasm', 'cpu'). */
  tfBackend: string;
  tf: Tf;
  /** A line for the log: versions, wasm flavour, threads. */
  detail: string;
}

export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}

const NATIVE_PACKAGES: Record<'tensorflow-gpu' | 'tensorflow', string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

const require = createRequire(import.meta.url);

/** The dist/ directory holding the backend's .wasm binaries (a path prefix works in Node). */
export function wasmBinariesDir(): string {
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  const dir = dirname(main);
  if (!existsSync(join(dir, 'tfjs-backend-wasm.wasm'))) {
    throw new BackendUnavailableError(`tfjs-backend-wasm binaries not found in ${dir} (expected tfjs-backend-wasm.wasm)`);
  }
  return dir + '/';
}

async function loadNative(name: 'tensorflow-gpu' | 'tensorflow'): Promise<SelectedBackend> {
  const specifier = NATIVE_PACKAGES[name];
  let mod: { default?: unknown; version?: Record<string, string> };
  try {
    mod = (await import(specifier)) as typeof mod;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const missing = err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND';
    throw new BackendUnavailableError(
      missing
        ? `backend "${name}" needs the optional package ${specifier}, which is not installed (npm install ${specifier})`
        : `backend "${name}": ${specifier} is installed but failed to load: ${err.message}`,
    );
  }
  // The native packages are CommonJS; their module.exports is the full tfjs API bound to the engine
  // on which they registered the 'tensorflow' backend.
  const tf = (mod.default ?? mod) as Tf;
  if (!(await tf.setBackend('tensorflow'))) {
    throw new BackendUnavailableError(`backend "${name}": ${specifier} loaded but the 'tensorflow' backend did not initialise`);
  }
  await tf.ready();
  return { name, tfBackend: 'tensorflow', tf, detail: `${specifier} (tfjs-core ${tf.version_core})` };
}

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');
let wasmModule: Promise<WasmModule> | undefined;

async function loadWasm(): Promise<SelectedBackend> {
  // setWasmPaths may be called only once, before the backend initialises: memoise the setup.
  wasmModule ??= (async () => {
    let wasm: WasmModule;
    try {
      wasm = await import('@tensorflow/tfjs-backend-wasm');
    } catch (e) {
      throw new BackendUnavailableError(`backend "wasm": @tensorflow/tfjs-backend-wasm failed to load: ${(e as Error).message}`);
    }
    wasm.setWasmPaths(wasmBinariesDir());
    return wasm;
  })();
  let wasm: WasmModule;
  try {
    wasm = await wasmModule;
  } catch (e) {
    wasmModule = undefined;
    throw e;
  }
  let ok: boolean;
  try {
    ok = await tfjs.setBackend('wasm');
  } catch (e) {
    throw new BackendUnavailableError(`backend "wasm" failed to initialise: ${(e as Error).message}`);
  }
  if (!ok) throw new BackendUnavailableError('backend "wasm" failed to initialise (tfjs printed the reason above)');
  await tfjs.ready();
  // Multi-threaded XNNPACK needs web workers, which Node lacks, so tfjs runs it single-threaded
  // here (which also keeps floating-point reductions in a fixed order); we leave the count alone.
  const simd = await tfjs.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return {
    name: 'wasm', tfBackend: 'wasm', tf: tfjs,
    detail: `@tensorflow/tfjs-backend-wasm ${wasm.version_wasm} (simd ${simd ? 'on' : 'off'}, threads ${wasm.getThreadsCount()})`,
  };
}

async function loadCpu(): Promise<SelectedBackend> {
  // PROD silences tfjs's "install the node backend" banner (cpu is chosen deliberately here); it
  // only turns off warnings, unlike IS_TEST, which adds per-kernel leak checks.
  tfjs.env().set('PROD', true);
  if (!(await tfjs.setBackend('cpu'))) throw new BackendUnavailableError('backend "cpu" failed to initialise');
  await tfjs.ready();
  return { name: 'cpu', tfBackend: 'cpu', tf: tfjs, detail: `tfjs cpu backend ${tfjs.version_core}` };
}

function load(name: BackendName): Promise<SelectedBackend> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow':
      return loadNative(name);
    case 'wasm':
      return loadWasm();
    case 'cpu':
      return loadCpu();
  }
}

/**
 * Activates a backend and returns the tfjs API bound to it. `auto` takes the first that loads in
 * BACKEND_ORDER; a named one that cannot load is an error. `log` hears why candidates were skipped.
 */
export async function selectBackend(choice: BackendChoice, log: (message: string) => void = () => {}): Promise<SelectedBackend> {
  if (choice !== 'auto') {
    if (!BACKEND_ORDER.includes(choice)) {
      throw new BackendUnavailableError(`unknown backend "${String(choice)}" (expected auto, ${BACKEND_ORDER.join(', ')})`);
    }
    return load(choice);
  }
  const skipped: string[] = [];
  for (const name of BACKEND_ORDER) {
    try {
      return await load(name);
    } catch (e) {
      if (!(e instanceof BackendUnavailableError)) throw e;
      skipped.push(e.message);
      log(`skipping ${e.message}`);
    }
  }
  throw new BackendUnavailableError(`no tfjs backend could be loaded:\n  ${skipped.join('\n  ')}`);
}

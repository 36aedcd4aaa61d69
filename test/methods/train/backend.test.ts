import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isInstalled } from '../../helpers/installed.js';
import { BackendUnavailableError, selectBackend, wasmBinariesDir } from '../../../src/methods/train/backend.js';

const installed = isInstalled;
const nativeInstalled = installed('@tensorflow/tfjs-node-gpu') || installed('@tensorflow/tfjs-node');

describe('selectBackend', () => {
  it('finds the wasm binaries in the package dist folder', () => {
    const dir = wasmBinariesDir();
    expect(dir).toMatch(/tfjs-backend-wasm\/dist\/$/);
    expect(existsSync(dir + 'tfjs-backend-wasm.wasm')).toBe(true);
  });

  it.skipIf(nativeInstalled)('auto falls through the missing native packages to wasm and says why', async () => {
    const lines: string[] = [];
    const b = await selectBackend('auto', (m) => lines.push(m));
    expect(b.name).toBe('wasm');
    expect(b.tf.getBackend()).toBe('wasm');
    expect(lines.join('\n')).toMatch(/@tensorflow\/tfjs-node-gpu, which is not installed/);
    expect(lines.join('\n')).toMatch(/@tensorflow\/tfjs-node, which is not installed/);
    expect(b.tf.tidy(() => Array.from(b.tf.matMul(b.tf.tensor2d([[1, 2]]), b.tf.tensor2d([[3], [4]])).dataSync()))).toEqual([11]);
  });

  it.skipIf(nativeInstalled)('forcing an unavailable native backend is a clear error', async () => {
    await expect(selectBackend('tensorflow')).rejects.toThrow(BackendUnavailableError);
    await expect(selectBackend('tensorflow')).rejects.toThrow(/backend "tensorflow" needs the optional package @tensorflow\/tfjs-node/);
    await expect(selectBackend('tensorflow-gpu')).rejects.toThrow(/tfjs-node-gpu/);
  });

  it('cpu can be forced, and wasm again after it', async () => {
    const cpu = await selectBackend('cpu');
    expect(cpu.tf.getBackend()).toBe('cpu');
    expect(cpu.detail).toMatch(/cpu/);
    const wasm = await selectBackend('wasm');
    expect(wasm.tf.getBackend()).toBe('wasm');
    expect(wasm.detail).toMatch(/threads/);
  });

  it('rejects an unknown name', async () => {
    await expect(selectBackend('webgpu' as never)).rejects.toThrow(/unknown backend "webgpu"/);
  });
});

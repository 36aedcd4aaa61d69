import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTextModel } from '../../scripts/build-clip-onnx.js';
import { vocabularyFromMerges } from '../../src/clip/tokenizer.js';
import promptTune, { type PromptTuneParams } from '../../src/nodes/prompt-tune.js';
import { createRng } from '../../src/random/rng.js';
import { tensor, type Tensor } from '../../src/runtime/tensor.js';
import { portsFor } from '../../src/runtime/types/node-type.js';
import { nodeHarness } from '../helpers/node-harness.js';

const harness = nodeHarness(promptTune, 4);
const MODEL = { synthetic: { width: 32, layers: 1, heads: 2, embed_dim: 16, seed: 0 } };
const params = (o: Record<string, unknown> = {}): PromptTuneParams => harness.params({ model: MODEL, ...o });

const classes = ['striped', 'dotted', 'woven'];
const rng = createRng(1, 'prompt-tune-node');
const n = 30;
const features = tensor('float32', [n, 16], Float32Array.from({ length: n * 16 }, () => rng.normal()));
const labels = tensor('int32', [n], Int32Array.from({ length: n }, (_, i) => i % 3));
const test = tensor('float32', [7, 16], Float32Array.from({ length: 7 * 16 }, () => rng.normal()));

describe('prompt-tune node', () => {
  it('has the CoOp/PTNL defaults and checks its params', () => {
    expect(params()).toMatchObject({ n_ctx: 16, ctx_init: null, class_token_position: 'end', csc: false, blocks: 1, loss: 'ce', q: 0.7, epochs: 50, batch_size: 32, lr: 0.002, shots: 0, robust: false, logit_scale: 'model' });
    expect(harness.isValid({ model: MODEL, robust: { a: 0.2, b: 35, drop: 0.3 } })).toBe(true);
    expect(harness.isValid({ model: MODEL, class_token_position: 'back' })).toBe(false);
    expect(harness.isValid({ model: { url: 'x' } })).toBe(false);
  });

  it('declares test_probs only when test features are connected', () => {
    const p = params();
    expect(Object.keys(portsFor(promptTune, p, new Set(['features'])).outputs)).not.toContain('test_probs');
    expect(Object.keys(portsFor(promptTune, p, new Set(['features', 'test_features'])).outputs)).toContain('test_probs');
  });

  it('trains a prompt matrix on a few-shot subset and outputs heads like train', async () => {
    const p = params({ n_ctx: 4, blocks: 2, csc: true, epochs: 2, shots: 4, batch_size: 8, loss: 'gce', robust: { drop: 0.25 }, backend: 'wasm' });
    const { ctx, rec } = harness.context(p, { features, labels, true_labels: labels, test_features: test, classes });
    const out = await promptTune.run(ctx);
    expect((out.train_probs as Tensor).shape).toEqual([n, 3]);
    expect((out.test_probs as Tensor).shape).toEqual([7, 3]);
    expect((out.context as Tensor).shape).toEqual([2, 3, 4, 32]);
    expect((out.text_features as Tensor).shape).toEqual([3, 2, 16]);
    const mask = out.mask as Tensor<'bool'>;
    // 4 shots per class, then robust similarity leaves out one of each class's four.
    expect(mask.data.reduce((s, v) => s + v, 0)).toBe(9);
    const history = out.history as { epochs: Array<{ alpha: number; kept: number; precision: number }>; logit_scale: number; backend: string };
    expect(history.epochs).toHaveLength(2);
    expect(history.epochs[0]).toMatchObject({ kept: 9, precision: 1 });
    expect(history.logit_scale).toBe(100);
    expect(history.backend).toBe('wasm');
    expect(rec.logs.some((l) => l.includes('few-shot: 4 per class → 12 samples'))).toBe(true);
    // Same seed, same result.
    const again = await promptTune.run(harness.context(p, { features, labels, true_labels: labels, test_features: test, classes }).ctx);
    expect((again.context as Tensor).data).toEqual((out.context as Tensor).data);
  });

  it('gives the initial prompt with zero epochs and refuses labels outside the classes', async () => {
    const p = params({ ctx_init: 'a photo of a', epochs: 0, backend: 'wasm' });
    const out = await promptTune.run(harness.context(p, { features, labels, classes }).ctx);
    expect((out.context as Tensor).shape).toEqual([1, 1, 9, 32]); // 9 byte tokens
    const bad = tensor('int32', [n], Int32Array.from({ length: n }, () => 5));
    await expect(promptTune.run(harness.context(params({ epochs: 1, backend: 'wasm' }), { features, labels: bad, classes }).ctx)).rejects.toThrow(/outside \[0, 3\)/);
  });

  it('loads the ONNX text encoder of a model directory, whose files join the key', async () => {
    const dir = join(harness.scratch, 'model');
    mkdirSync(join(dir, 'onnx'), { recursive: true });
    writeFileSync(join(dir, 'onnx', 'text_model.onnx'), buildTextModel({ vocabSize: 600, contextLength: 77, width: 32, layers: 1, heads: 2, mlp: 64, embedDim: 16 }, 1));
    // The byte-level vocabulary (no merges): its end-of-text id, 513, fits the 600-token model.
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(vocabularyFromMerges([]))));
    writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n');
    const p = params({ model: { dir: 'model' }, n_ctx: 2, epochs: 1, backend: 'wasm' });
    const out = await promptTune.run(harness.context(p, { features, labels, classes }).ctx);
    expect((out.text_features as Tensor).shape).toEqual([3, 1, 16]);
    expect((out.history as { logit_scale: number }).logit_scale).toBe(100);
    const deps = await promptTune.fingerprint!({ params: p, baseDir: harness.scratch, hashFile: async (path: string) => ({ sha256: path, size: 1 }) } as never);
    expect(deps.map((d) => d.name).sort()).toEqual(['model:tokenizer', 'model:weights']);
  });
});

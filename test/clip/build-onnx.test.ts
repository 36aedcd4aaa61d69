// The random-weight ViT/text builders (scripts/build-clip-onnx.ts) at a small size: the same code
// writes the ViT-B/32-shaped benchmark model.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { VIT_B32, TEXT_B32, buildTextModel, buildVisionModel } from '../../scripts/build-clip-onnx.js';
import { createRng } from '../../src/random/rng.js';

const SMALL_VISION = { imageSize: 64, patchSize: 16, width: 32, layers: 2, heads: 4, mlp: 64, embedDim: 16 };
const SMALL_TEXT = { vocabSize: 49408, contextLength: 77, width: 32, layers: 2, heads: 4, mlp: 64, embedDim: 16 };

async function session(bytes: Uint8Array) {
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
}

describe('build-clip-onnx', () => {
  it('keeps the ViT-B/32 and CLIP text shapes', () => {
    expect(VIT_B32).toEqual({ imageSize: 224, patchSize: 32, width: 768, layers: 12, heads: 12, mlp: 3072, embedDim: 512 });
    expect(TEXT_B32).toMatchObject({ vocabSize: 49408, contextLength: 77, width: 512, layers: 12, heads: 8, embedDim: 512 });
  });

  it('builds a vision transformer whose batch rows are independent', async () => {
    const s = await session(buildVisionModel(SMALL_VISION, 0));
    expect(s.inputNames).toEqual(['pixel_values']);
    expect(s.outputNames).toEqual(['image_embeds']);
    const rng = createRng(1, 'vit-input');
    const x = Float32Array.from({ length: 3 * 3 * 64 * 64 }, () => rng.normal());
    const all = (await s.run({ pixel_values: new ort.Tensor('float32', x, [3, 3, 64, 64]) })).image_embeds;
    expect(all.dims).toEqual([3, 16]);
    const second = (await s.run({ pixel_values: new ort.Tensor('float32', x.slice(3 * 64 * 64, 6 * 64 * 64), [1, 3, 64, 64]) })).image_embeds;
    const a = (all.data as Float32Array).subarray(16, 32);
    for (let d = 0; d < 16; d++) expect(Math.abs(a[d] - (second.data as Float32Array)[d])).toBeLessThan(1e-5);
    // Different images give different embeddings; the same weights come back for the same seed.
    expect(Math.abs((all.data as Float32Array)[0] - (all.data as Float32Array)[16])).toBeGreaterThan(1e-6);
    expect(Buffer.compare(Buffer.from(buildVisionModel(SMALL_VISION, 0)), Buffer.from(buildVisionModel(SMALL_VISION, 0)))).toBe(0);
  });

  it('builds a causal text transformer pooled at the end-of-text token', async () => {
    const s = await session(buildTextModel(SMALL_TEXT, 1));
    const row = (tokens: number[]) => {
      const ids = new BigInt64Array(77);
      tokens.forEach((t, i) => (ids[i] = BigInt(t)));
      return ids;
    };
    const run = async (tokens: number[]) =>
      (await s.run({ input_ids: new ort.Tensor('int64', row(tokens), [1, 77]) })).text_embeds.data as Float32Array;
    const base = await run([49406, 320, 1929, 49407]);
    // Tokens after the end token cannot reach it through the causal mask.
    const padded = await run([49406, 320, 1929, 49407, 555, 666]);
    for (let d = 0; d < 16; d++) expect(Math.abs(padded[d] - base[d])).toBeLessThan(1e-5);
    // A token before it does.
    const changed = await run([49406, 320, 1125, 49407]);
    expect(Math.max(...Array.from(changed, (v, d) => Math.abs(v - base[d])))).toBeGreaterThan(1e-4);
  });
});

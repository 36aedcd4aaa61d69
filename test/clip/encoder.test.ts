import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataType, OnnxGraph } from '../../scripts/build-clip-onnx.js';
import { ClipModelError, ClipTextEncoder, ClipVisionEncoder, cudaProviderInstalled } from '../../src/clip/encoder.js';
import { createRng } from '../../src/random/rng.js';
import {
  TINY_TEXT,
  TINY_VISION,
  buildTinyText,
  buildTinyVision,
  tinyTextReference,
  tinyVisionReference,
  type TinyVariant,
} from '../helpers/onnx-models.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sieve-encoder-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function modelFile(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

function randomPixels(count: number, seed: number): Float32Array {
  const rng = createRng(seed, 'pixels');
  return Float32Array.from({ length: count * 3 * 32 * 32 }, () => rng.normal());
}

function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let size = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i] - expected[i]) ** 2;
    size += expected[i] ** 2;
  }
  return Math.sqrt(diff / size);
}

describe('ClipVisionEncoder', () => {
  const tolerance: Record<TinyVariant, number> = { fp32: 1e-5, fp16: 5e-3, int8: 5e-2 };

  for (const variant of ['fp32', 'fp16', 'int8'] as const) {
    it(`runs the ${variant} export and matches the fp32 reference`, async () => {
      const encoder = await ClipVisionEncoder.open(await modelFile(`vision_${variant}.onnx`, buildTinyVision(TINY_VISION, variant)), { provider: 'cpu', threads: 1 });
      try {
        expect(encoder.inputName).toBe('pixel_values');
        expect(encoder.outputName).toBe('image_embeds');
        expect(encoder.inputType).toBe(variant === 'fp16' ? 'float16' : 'float32');
        expect(encoder.imageSize).toEqual({ height: 32, width: 32 });
        const pixels = randomPixels(3, 1);
        const { data, dim } = await encoder.run(pixels, 3, 32, 32);
        expect(dim).toBe(TINY_VISION.dim);
        for (let i = 0; i < 3; i++) {
          const expected = tinyVisionReference(TINY_VISION, pixels.subarray(i * 3072, (i + 1) * 3072));
          expect(relativeError(data.subarray(i * dim, (i + 1) * dim), expected)).toBeLessThan(tolerance[variant]);
        }
      } finally {
        await encoder.release();
      }
    });
  }

  it('refuses a batch of the wrong image size, pointing at the preprocessor config', async () => {
    const encoder = await ClipVisionEncoder.open(await modelFile('vision.onnx', buildTinyVision(TINY_VISION, 'fp32')), { provider: 'cpu' });
    await expect(encoder.run(new Float32Array(3 * 64 * 64), 1, 64, 64)).rejects.toThrow(/expects 32x32 images but preprocessing gives 64x64.*preprocessor_config/);
    await encoder.release();
  });

  it('names the inputs it found when the model is not a CLIP vision export', async () => {
    const g = new OnnxGraph('not_clip');
    const x = g.input('x', DataType.FLOAT, ['batch', 3]);
    g.output(g.op('Relu', [x]), 'y', DataType.FLOAT, ['batch', 3]);
    const path = await modelFile('other.onnx', g.encode());
    const err = await ClipVisionEncoder.open(path, { provider: 'cpu' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClipModelError);
    expect((err as Error).message).toContain('expected one input pixel_values');
    expect((err as Error).message).toContain('x: float32[batch, 3]');
  });

  it('names the outputs when none is an image embedding', async () => {
    const g = new OnnxGraph('two_outputs');
    const x = g.input('pixel_values', DataType.FLOAT, ['batch', 3, 4, 4]);
    const flat = g.op('Flatten', [x]);
    g.output(flat, 'a', DataType.FLOAT, ['batch', 48]);
    g.output(g.op('Relu', [flat]), 'b', DataType.FLOAT, ['batch', 48]);
    const err = await ClipVisionEncoder.open(await modelFile('two.onnx', g.encode()), { provider: 'cpu' }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/no image embedding output.*a: float32\[batch, 48\]; b: float32\[batch, 48\]/);
  });
});

describe('execution providers', () => {
  it.skipIf(cudaProviderInstalled())('auto falls back to CPU and says why', async () => {
    const encoder = await ClipVisionEncoder.open(await modelFile('auto.onnx', buildTinyVision(TINY_VISION, 'fp32')), { provider: 'auto' });
    expect(encoder.provider).toBe('cpu');
    expect(encoder.fallbackReason).toMatch(/CUDA/);
    await encoder.release();
  });

  it.skipIf(cudaProviderInstalled())('explicit cuda fails clearly when unavailable', async () => {
    const path = await modelFile('cuda.onnx', buildTinyVision(TINY_VISION, 'fp32'));
    await expect(ClipVisionEncoder.open(path, { provider: 'cuda' })).rejects.toThrow(/provider "cuda"/);
  });
});

describe('ClipTextEncoder', () => {
  const EOT = 49407;
  function ids(rows: number[][]): Int32Array {
    const out = new Int32Array(rows.length * 77);
    rows.forEach((r, i) => out.set(r, i * 77));
    return out;
  }

  for (const attentionMask of [false, true]) {
    for (const variant of ['fp32', 'fp16', 'int8'] as const) {
      it(`runs the ${variant} export${attentionMask ? ' with attention_mask' : ''}`, async () => {
        const config = { ...TINY_TEXT, attentionMask };
        const encoder = await ClipTextEncoder.open(await modelFile(`text_${variant}_${attentionMask}.onnx`, buildTinyText(config, variant)), { provider: 'cpu' });
        try {
          expect(encoder.idsType).toBe('int64');
          expect(encoder.maskName).toBe(attentionMask ? 'attention_mask' : undefined);
          expect(encoder.contextLength).toBe(77);
          const batch = ids([[49406, 320, 1125, EOT], [49406, 1929, 269, EOT]]);
          const { data, dim } = await encoder.run(batch, 2, 77, EOT);
          for (let i = 0; i < 2; i++) {
            const expected = tinyTextReference(config, batch.subarray(i * 77, (i + 1) * 77), EOT);
            expect(relativeError(data.subarray(i * dim, (i + 1) * dim), expected)).toBeLessThan(variant === 'fp32' ? 1e-5 : 5e-2);
          }
        } finally {
          await encoder.release();
        }
      });
    }
  }

  it('rejects a vision model given as the text model', async () => {
    const path = await modelFile('swapped.onnx', buildTinyVision(TINY_VISION, 'fp32'));
    await expect(ClipTextEncoder.open(path, { provider: 'cpu' })).rejects.toThrow(/not a CLIP text model.*pixel_values/);
  });
});

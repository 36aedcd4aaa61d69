import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipTextEncoder, ClipVisionEncoder } from '../../src/clip/encoder.js';
import { embedImages, embedPrompts, imagesFromTensor } from '../../src/clip/pipeline.js';
import { CLIP_PREPROCESS, ImagePreprocessor } from '../../src/clip/preprocess.js';
import { buildPrompts, IMAGENET_TEMPLATES, promptClassName, resolveTemplates } from '../../src/clip/templates.js';
import { loadTokenizer } from '../../src/clip/tokenizer.js';
import { CIFAR100_FINE_CLASSES } from '../../src/data/cifar-classes.js';
import { createRng } from '../../src/random/rng.js';
import { tensor } from '../../src/runtime/tensor.js';
import { TINY_TEXT, TINY_VISION, buildTinyText, buildTinyVision, tinyTextReference, tinyVisionReference } from '../helpers/onnx-models.js';

const TOKENIZER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data/clip-tokenizer');
const config32 = { ...CLIP_PREPROCESS, shortestEdge: 32, cropHeight: 32, cropWidth: 32 };

let dir: string;
let vision: ClipVisionEncoder;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sieve-pipeline-'));
  await writeFile(join(dir, 'vision.onnx'), buildTinyVision(TINY_VISION, 'fp32'));
  vision = await ClipVisionEncoder.open(join(dir, 'vision.onnx'), { provider: 'cpu', threads: 1 });
});
afterAll(async () => {
  await vision.release();
  await rm(dir, { recursive: true, force: true });
});

function randomImages(n: number, h: number, w: number, seed: number) {
  const rng = createRng(seed, 'images');
  return tensor('uint8', [n, h, w, 3], Uint8Array.from({ length: n * h * w * 3 }, () => rng.int(256)));
}

describe('embedImages', () => {
  it('preprocesses, runs and L2-normalises every image in order', async () => {
    const images = randomImages(5, 40, 48, 1);
    const pre = new ImagePreprocessor(config32);
    const { data, count, dim } = await embedImages(vision, pre, imagesFromTensor(images), { batchSize: 2 });
    expect([count, dim]).toEqual([5, 12]);
    const source = imagesFromTensor(images);
    for (let i = 0; i < 5; i++) {
      const pixels = new Float32Array(3 * 32 * 32);
      await pre.into(source.image(i), pixels, 0, { height: 32, width: 32 });
      const expected = tinyVisionReference(TINY_VISION, pixels);
      const norm = Math.hypot(...expected);
      for (let d = 0; d < dim; d++) expect(data[i * dim + d]).toBeCloseTo(expected[d] / norm, 5);
    }
  });

  it('gives the same features whatever the batch size, and identical bits on a rerun', async () => {
    const images = imagesFromTensor(randomImages(7, 32, 32, 2));
    const pre = new ImagePreprocessor(config32);
    const whole = await embedImages(vision, pre, images, { batchSize: 7 });
    const progress: number[] = [];
    const threes = await embedImages(vision, pre, images, { batchSize: 3, onProgress: (done) => progress.push(done) });
    const again = await embedImages(vision, pre, images, { batchSize: 3 });
    expect(progress).toEqual([3, 6, 7]);
    for (let i = 0; i < whole.data.length; i++) expect(Math.abs(threes.data[i] - whole.data[i])).toBeLessThan(1e-6);
    expect(Buffer.compare(Buffer.from(threes.data.buffer), Buffer.from(again.data.buffer))).toBe(0);
  });

  it('gives identical bits with preprocessing on worker threads and on the calling thread', async () => {
    const images = imagesFromTensor(randomImages(7, 40, 37, 4));
    const pre = new ImagePreprocessor(config32);
    const inThread = await embedImages(vision, pre, images, { batchSize: 3, preprocessWorkers: 0 });
    const onWorkers = await embedImages(vision, pre, images, { batchSize: 3, preprocessWorkers: 2 });
    expect(Buffer.compare(Buffer.from(onWorkers.data.buffer), Buffer.from(inThread.data.buffer))).toBe(0);
  });

  it('stops when aborted and fails clearly when the preprocessor and model disagree on size', async () => {
    const images = imagesFromTensor(randomImages(4, 32, 32, 3));
    const controller = new AbortController();
    controller.abort();
    await expect(embedImages(vision, new ImagePreprocessor(config32), images, { batchSize: 2, signal: controller.signal })).rejects.toThrow();
    await expect(embedImages(vision, new ImagePreprocessor(CLIP_PREPROCESS), images, { batchSize: 2 })).rejects.toThrow(
      /expects 32x32 images but preprocessing gives 224x224/,
    );
  });

  it('rejects tensors that are not uint8 NHWC', () => {
    expect(() => imagesFromTensor(tensor('float32', [1, 2, 2, 3], new Float32Array(12)))).toThrow(/uint8 tensor \[N, H, W, C\]/);
  });
});

describe('templates', () => {
  it("has CLIP's 80 ImageNet templates, each with one {}", () => {
    expect(IMAGENET_TEMPLATES.length).toBe(80);
    expect(new Set(IMAGENET_TEMPLATES).size).toBe(80);
    expect(IMAGENET_TEMPLATES[0]).toBe('a bad photo of a {}.');
    expect(IMAGENET_TEMPLATES[39]).toBe('a photo of a {}.');
    expect(IMAGENET_TEMPLATES[79]).toBe('a tattoo of the {}.');
    for (const t of IMAGENET_TEMPLATES) expect(t.split('{}').length).toBe(2);
  });

  it('builds a K x P prompt grid from templates or descriptions', () => {
    expect(buildPrompts(['dog', 'cat'], { templates: 'simple' })).toEqual([['a photo of a dog.'], ['a photo of a cat.']]);
    expect(buildPrompts(['a$&b'], { templates: ['{} and {}'] })).toEqual([['a$&b and a$&b']]);
    // Underscores read as spaces: CIFAR-100's names as CLIP's published prompts write them.
    expect(buildPrompts(['maple_tree', 'aquarium_fish'], { templates: 'simple' })).toEqual([['a photo of a maple tree.'], ['a photo of a aquarium fish.']]);
    expect(CIFAR100_FINE_CLASSES.map(promptClassName).filter((c) => c.includes('_'))).toEqual([]);
    expect(buildPrompts(['sea_lion'], { descriptions: { sea_lion: ['a sea_lion'] } })).toEqual([['a sea_lion']]); // descriptions as written
    expect(buildPrompts(['dog'], {}).length).toBe(1);
    expect(buildPrompts(['dog'], {})[0].length).toBe(80);
    expect(buildPrompts(['dog', 'cat'], { descriptions: { dog: ['barks', 'wags'], cat: ['meows', 'purrs'] } })).toEqual([
      ['barks', 'wags'],
      ['meows', 'purrs'],
    ]);
    expect(() => buildPrompts(['dog', 'cat'], { descriptions: { dog: ['barks'] } })).toThrow(/no entry for 1 class\(es\): "cat"/);
    expect(() => buildPrompts(['dog', 'cat'], { descriptions: { dog: ['a'], cat: ['b', 'c'] } })).toThrow(/same number of texts.*"cat" has 2/);
    expect(() => resolveTemplates(['no placeholder'])).toThrow(/templates\[0\] must be a string containing "\{\}"/);
  });
});

describe.skipIf(!existsSync(join(TOKENIZER_DIR, 'tokenizer.json')))('embedPrompts (needs shared/data/clip-tokenizer)', () => {
  it('embeds the prompt grid row by row, L2-normalised', async () => {
    await writeFile(join(dir, 'text.onnx'), buildTinyText(TINY_TEXT, 'fp32'));
    const encoder = await ClipTextEncoder.open(join(dir, 'text.onnx'), { provider: 'cpu' });
    const tokenizer = await loadTokenizer(join(TOKENIZER_DIR, 'tokenizer.json'));
    try {
      const prompts = buildPrompts(['dog', 'cat', 'airplane'], { templates: ['a photo of a {}.', 'a {} in a video game.'] });
      const { data, count, dim } = await embedPrompts(encoder, tokenizer, prompts, { batchSize: 4 });
      expect([count, dim]).toEqual([6, 12]);
      prompts.flat().forEach((text, row) => {
        const expected = tinyTextReference(TINY_TEXT, tokenizer.tokenize([text]), tokenizer.endOfText);
        const norm = Math.hypot(...expected);
        for (let d = 0; d < dim; d++) expect(data[row * dim + d]).toBeCloseTo(expected[d] / norm, 5);
      });
    } finally {
      await encoder.release();
    }
  });
});

// The `embed` node: images (or precomputed features) to L2-normalised feature vectors, and class
// prompts to text features. Embedders: `clip` (ONNX CLIP encoders through onnxruntime), `pixels`
// (standardised pixels with an optional random projection or PCA fitted on the training images),
// `features` (pass-through). onnxruntime and sharp are imported only when the clip embedder runs.
import type { ProviderChoice } from '../clip/encoder.js';
import type { ModelSpec, Variant } from '../clip/model-source.js';
import { localModelFiles } from '../clip/model-source.js';
import { downloadDir } from '../io/download.js';
import { applyPixelTransform, fitPixelTransform, passThroughFeatures, type PixelProjection } from '../methods/pixels.js';
import { isTensor, tensor, type Json, type Tensor } from '../runtime/tensor.js';
import { defineNode, type ExternalDep, type NodeContext, type PortValue, type Ports } from '../runtime/types/node-type.js';
import { optionalClassNames } from './inputs.js';

export interface EmbedParams {
  embedder: 'clip' | 'pixels' | 'features';
  model?: ModelSpec;
  variant: Variant;
  batch_size: number;
  threads: number;
  provider: ProviderChoice;
  templates: 'imagenet80' | 'simple' | string[];
  descriptions?: Record<string, string[]>;
  crop_rounding?: 'floor' | 'half-even';
  projection: PixelProjection;
  dim?: number;
  normalize: boolean;
}

export class EmbedParamError extends Error {
  override name = 'EmbedParamError';
}

const remoteFile = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'sha256'],
  properties: {
    url: { type: 'string', description: 'http(s):// or file:// URL of the file.' },
    sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description: 'Expected sha256 of the file (64 hex digits).' },
  },
};

const paramsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['embedder'],
  properties: {
    embedder: {
      enum: ['clip', 'pixels', 'features'],
      default: 'clip',
      description: 'clip: ONNX CLIP encoders; pixels: standardised raw pixels (optionally projected); features: pass-through of precomputed features.',
    },
    model: {
      description:
        'clip only. {dir} (Hugging Face ONNX export layout, relative to the pipeline file) or {files: {vision, text, tokenizer, preprocessor}} with {url, sha256} each.',
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['dir'], properties: { dir: { type: 'string', description: 'Model directory.' } } },
        {
          type: 'object',
          additionalProperties: false,
          required: ['files'],
          properties: {
            files: {
              type: 'object',
              additionalProperties: false,
              required: ['vision'],
              description: 'Remote files, downloaded and verified into the download cache.',
              properties: { vision: remoteFile, text: remoteFile, tokenizer: remoteFile, preprocessor: remoteFile },
            },
          },
        },
      ],
    },
    variant: { enum: ['fp32', 'fp16', 'int8'], default: 'fp32', description: 'clip: which export to load (*.onnx, *_fp16.onnx, *_quantized.onnx).' },
    batch_size: { type: 'integer', minimum: 1, maximum: 65536, default: 64, description: 'clip: images (or prompts) per inference call.' },
    threads: { type: 'integer', minimum: 0, maximum: 1024, default: 0, description: 'clip: onnxruntime intra-op threads; 0 = one per physical core.' },
    provider: { enum: ['auto', 'cpu', 'cuda'], default: 'auto', description: 'clip: execution provider; auto tries CUDA, then CPU.' },
    templates: {
      description: 'clip: prompt templates for class names: "imagenet80" (CLIP\'s 80), "simple" ("a photo of a {}."), or a list with {} for the class.',
      default: 'imagenet80',
      oneOf: [
        { enum: ['imagenet80', 'simple'] },
        { type: 'array', minItems: 1, items: { type: 'string', pattern: '\\{\\}' } },
      ],
    },
    descriptions: {
      type: 'object',
      description: 'clip: per-class texts used instead of templates; every class needs the same number of texts.',
      additionalProperties: { type: 'array', minItems: 1, items: { type: 'string' } },
    },
    crop_rounding: {
      enum: ['floor', 'half-even'],
      description:
        "clip: centre-crop offsets when the margin is odd: floor as Hugging Face's CLIPImageProcessor (default), or half-even as OpenAI's clip.load transform (torchvision).",
    },
    projection: { enum: ['none', 'random', 'pca'], default: 'none', description: 'pixels: reduce dimension by a seeded Gaussian projection or PCA.' },
    dim: { type: 'integer', minimum: 1, maximum: 65536, default: 128, description: 'pixels: output dimension for random/pca projection.' },
    normalize: { type: 'boolean', default: true, description: 'pixels/features: L2-normalise each row (clip features always are).' },
  },
} as const;

const uint8Images = (description: string, optional = false) =>
  ({ kind: 'tensor', dtype: 'uint8', rank: 4, description, optional }) as const;
const floatRows = (description: string, optional = false) =>
  ({ kind: 'tensor', dtype: ['float32', 'float64'], rank: 2, description, optional }) as const;

function embedPorts(params: EmbedParams, connected: ReadonlySet<string>): Ports {
  const outputs: Ports['outputs'] = { features: { kind: 'tensor', dtype: 'float32', rank: 2, description: 'L2-normalised features [N, D].' } };
  if (params.embedder === 'features') {
    if (connected.has('test_features')) outputs.test_features = { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Test features [M, D].' };
    return {
      inputs: { features: floatRows('Precomputed features [N, D].'), test_features: floatRows('Precomputed test features [M, D].', true) },
      outputs,
    };
  }
  const inputs: Ports['inputs'] = {
    images: uint8Images('Training images, uint8 [N, H, W, C].'),
    test_images: uint8Images('Test images, uint8 [M, H, W, C]; embedded with the same model/transform.', true),
  };
  if (connected.has('test_images')) outputs.test_features = { kind: 'tensor', dtype: 'float32', rank: 2, description: 'Test features [M, D].' };
  if (params.embedder === 'clip') {
    inputs.classes = { kind: 'json', description: 'Class names (string[]) for text features.', optional: true };
    if (connected.has('classes')) {
      outputs.text_features = { kind: 'tensor', dtype: 'float32', rank: 3, description: 'L2-normalised prompt embeddings [K, P, D].' };
    }
  }
  return { inputs, outputs };
}

function requireTensor(value: PortValue | undefined, port: string): Tensor {
  if (!value || !isTensor(value)) throw new EmbedParamError(`input "${port}" must be a tensor`);
  return value;
}


function runPixels(ctx: NodeContext<EmbedParams>): Record<string, PortValue> {
  const { params } = ctx;
  const images = requireTensor(ctx.inputs.images, 'images');
  const [n, ...pixelShape] = images.shape;
  const f = pixelShape.reduce((a, b) => a * b, 1);
  const transform = fitPixelTransform(images.data as Uint8Array, n, f, {
    projection: params.projection,
    dim: params.projection === 'none' ? undefined : params.dim,
    seed: ctx.seed,
    normalize: params.normalize,
  });
  const out: Record<string, PortValue> = {
    features: tensor('float32', [n, transform.outputDim], applyPixelTransform(transform, images.data as Uint8Array, n)),
  };
  const testValue = ctx.inputs.test_images;
  if (testValue !== undefined) {
    const test = requireTensor(testValue, 'test_images');
    const [m, ...testShape] = test.shape;
    if (testShape.join('x') !== pixelShape.join('x')) {
      throw new EmbedParamError(`test_images are [${testShape.join(', ')}] per image but images are [${pixelShape.join(', ')}]: the pixel transform needs equal shapes`);
    }
    out.test_features = tensor('float32', [m, transform.outputDim], applyPixelTransform(transform, test.data as Uint8Array, m));
  }
  const note: Json = { embedder: 'pixels', projection: params.projection, input_dim: f, output_dim: transform.outputDim };
  if (transform.iterations !== undefined) note.pca_iterations = transform.iterations;
  ctx.note('embedder', note);
  return out;
}

function runFeatures(ctx: NodeContext<EmbedParams>): Record<string, PortValue> {
  const copy = (port: string): Tensor<'float32'> => {
    const t = requireTensor(ctx.inputs[port], port);
    if (t.shape.length !== 2 || (t.dtype !== 'float32' && t.dtype !== 'float64')) {
      throw new EmbedParamError(`input "${port}" must be float32/float64 [N, D], got ${t.dtype} [${t.shape.join(', ')}]`);
    }
    const [n, d] = t.shape;
    return tensor('float32', [n, d], passThroughFeatures(t.data as Float32Array | Float64Array, n, d, ctx.params.normalize));
  };
  const out: Record<string, PortValue> = { features: copy('features') };
  if (ctx.inputs.test_features !== undefined) {
    out.test_features = copy('test_features');
    const [, d] = (out.features as Tensor).shape;
    const [, dt] = (out.test_features as Tensor).shape;
    if (d !== dt) throw new EmbedParamError(`test_features have ${dt} dimensions but features have ${d}`);
  }
  return out;
}

async function runClip(ctx: NodeContext<EmbedParams>): Promise<Record<string, PortValue>> {
  const { params } = ctx;
  if (!params.model) throw new EmbedParamError('embedder "clip" needs params.model ({dir} or {files})');
  const { runClipEmbedding } = await import('../clip/run.js');
  const result = await runClipEmbedding({
    model: params.model,
    variant: params.variant,
    batchSize: params.batch_size,
    threads: params.threads,
    provider: params.provider,
    templates: params.templates,
    descriptions: params.descriptions,
    cropRounding: params.crop_rounding,
    images: requireTensor(ctx.inputs.images, 'images'),
    testImages: ctx.inputs.test_images === undefined ? undefined : requireTensor(ctx.inputs.test_images, 'test_images'),
    classes: optionalClassNames(ctx.inputs, EmbedParamError),
    baseDir: ctx.baseDir,
    downloadDir: downloadDir(),
    signal: ctx.signal,
    progress: (done, total, unit) => ctx.progress(done, total, unit),
    log: (message) => ctx.log(message),
    note: (key, value) => ctx.note(key, value),
  });
  const out: Record<string, PortValue> = { features: result.features };
  if (result.testFeatures) out.test_features = result.testFeatures;
  if (result.textFeatures) out.text_features = result.textFeatures;
  return out;
}

export default defineNode<EmbedParams>({
  type: 'embed',
  version: '2',
  description: 'Embeds images with CLIP (ONNX), standardised pixels or precomputed features; class prompts to text features.',
  paramsSchema: paramsSchema as unknown as Record<string, unknown>,
  ports: embedPorts,
  // How the encoder runs, not what it computes: left out of the key (features equal to float
  // rounding; a test checks threads and batch size).
  executionOnly: ['threads', 'batch_size', 'provider'],
  // Compute work (a worker thread locally): onnxruntime-node's run and the pixels PCA are synchronous
  // CPU work of seconds, which would otherwise freeze the progress view.
  resources: { cpus: 1, memory: '4G' },
  async fingerprint(ctx): Promise<ExternalDep[]> {
    if (ctx.params.embedder !== 'clip' || !ctx.params.model) return [];
    const files = localModelFiles(ctx.params.model, ctx.params.variant, ctx.baseDir);
    if (!files) return [];
    const deps: ExternalDep[] = [];
    for (const [role, path] of Object.entries(files) as Array<[string, string | undefined]>) {
      if (!path) continue;
      const { sha256, size } = await ctx.hashFile(path);
      deps.push({ name: `model:${role}`, path, sha256, size });
      // vocab.json needs its merges.txt: both define the tokenizer.
      if (path.endsWith('vocab.json')) {
        const merges = path.replace(/vocab\.json$/, 'merges.txt');
        const m = await ctx.hashFile(merges);
        deps.push({ name: 'model:merges', path: merges, ...m });
      }
    }
    return deps;
  },
  async run(ctx) {
    switch (ctx.params.embedder) {
      case 'clip':
        return runClip(ctx);
      case 'pixels':
        return runPixels(ctx);
      case 'features':
        return runFeatures(ctx);
      default:
        throw new EmbedParamError(`embedder must be clip, pixels or features, got ${JSON.stringify(ctx.params.embedder)}`);
    }
  },
});

// The CLIP side of the `embed` node: resolve (and download) the model files, embed the images,
// then the class prompts, one session at a time so that only one tower is in memory.
import type { Json, Tensor } from '../runtime/tensor.js';
import { tensor } from '../runtime/tensor.js';
import { ClipTextEncoder, ClipVisionEncoder, type ProviderChoice, type ProviderUsed } from './encoder.js';
import { fileDigest, resolveModelFiles, type ModelFiles, type ModelSpec, type Variant } from './model-source.js';
import { embedImages, embedPrompts, imagesFromTensor } from './pipeline.js';
import { CLIP_PREPROCESS, ImagePreprocessor, loadPreprocessorConfig, type CropRounding } from './preprocess.js';
import { buildPrompts, type TemplateChoice } from './templates.js';
import { loadTokenizer } from './tokenizer.js';

export interface ClipEmbedRequest {
  model: ModelSpec;
  variant: Variant;
  batchSize: number;
  threads: number;
  provider: ProviderChoice;
  templates: TemplateChoice;
  descriptions?: Readonly<Record<string, readonly string[]>>;
  /** Centre-crop offsets: floor (Hugging Face, default) or round half to even (OpenAI's torchvision). */
  cropRounding?: CropRounding;
  images: Tensor;
  testImages?: Tensor;
  classes?: readonly string[];
  baseDir: string;
  downloadDir?: string;
  signal: AbortSignal;
  progress(done: number, total: number, unit: string): void;
  log(message: string): void;
  note(key: string, value: Json): void;
}

export interface ClipEmbedResult {
  features: Tensor<'float32'>;
  testFeatures?: Tensor<'float32'>;
  textFeatures?: Tensor<'float32'>;
}

async function describeFiles(files: ModelFiles): Promise<Json> {
  const out: Record<string, Json> = {};
  for (const [role, path] of Object.entries(files) as Array<[string, string | undefined]>) {
    if (path) out[role] = { path, ...(await fileDigest(path)) };
  }
  return out;
}

export async function runClipEmbedding(req: ClipEmbedRequest): Promise<ClipEmbedResult> {
  const needText = req.classes !== undefined;
  // Prompts first: bad templates or descriptions fail before any download or model load.
  const prompts = req.classes ? buildPrompts(req.classes, { templates: req.templates, descriptions: req.descriptions }) : undefined;
  const files = await resolveModelFiles(req.model, {
    variant: req.variant,
    baseDir: req.baseDir,
    needText,
    downloadDir: req.downloadDir,
    signal: req.signal,
    onDownload: (role, received, total) => req.progress(received, total ?? received, `bytes of ${role} model`),
  });
  const config = files.preprocessor ? await loadPreprocessorConfig(files.preprocessor) : CLIP_PREPROCESS;
  const preprocessor = new ImagePreprocessor({ ...config, cropRounding: req.cropRounding ?? 'floor' });
  const sessionOptions = { threads: req.threads, provider: req.provider };
  const providers: Record<string, ProviderUsed> = {};
  let fallback: string | undefined;

  const train = imagesFromTensor(req.images, 'images');
  const test = req.testImages ? imagesFromTensor(req.testImages, 'test_images') : undefined;
  const total = train.count + (test?.count ?? 0);
  const vision = await ClipVisionEncoder.open(files.vision, sessionOptions);
  providers.vision = vision.provider;
  fallback = vision.fallbackReason;
  let features: Tensor<'float32'>;
  let testFeatures: Tensor<'float32'> | undefined;
  try {
    const batchOptions = { batchSize: req.batchSize, signal: req.signal };
    const a = await embedImages(vision, preprocessor, train, { ...batchOptions, onProgress: (done) => req.progress(done, total, 'images') });
    features = tensor('float32', [a.count, a.dim], a.data);
    let seconds = a.seconds;
    if (test) {
      const b = await embedImages(vision, preprocessor, test, { ...batchOptions, onProgress: (done) => req.progress(a.count + done, total, 'images') });
      testFeatures = tensor('float32', [b.count, b.dim], b.data);
      seconds += b.seconds;
    }
    req.log(`embedded ${total} images in ${seconds.toFixed(1)} s (${(total / seconds).toFixed(1)} images/s, ${vision.provider})`);
  } finally {
    await vision.release();
  }

  let textFeatures: Tensor<'float32'> | undefined;
  if (prompts) {
    const text = await ClipTextEncoder.open(files.text!, sessionOptions);
    providers.text = text.provider;
    fallback ??= text.fallbackReason;
    try {
      const tokenizer = await loadTokenizer(files.tokenizer!);
      const t = await embedPrompts(text, tokenizer, prompts, {
        batchSize: req.batchSize,
        signal: req.signal,
        onProgress: (done, all) => req.progress(done, all, 'prompts'),
      });
      textFeatures = tensor('float32', [prompts.length, prompts[0].length, t.dim], t.data);
      req.log(`embedded ${t.count} prompts (${prompts.length} classes x ${prompts[0].length}) in ${t.seconds.toFixed(1)} s`);
      const truncated = t.truncated ?? [];
      if (truncated.length > 0) {
        const longest = truncated.reduce((a, b) => (b.tokens > a.tokens ? b : a));
        req.log(
          `${truncated.length} of ${t.count} prompts are longer than the text model's context and were truncated (clip.tokenize would refuse them); the longest has ${longest.tokens} tokens: "${longest.text.slice(0, 80)}"`,
        );
      }
      req.note('prompts', { count: t.count, truncated: truncated.length, examples: truncated.slice(0, 5).map((x) => ({ text: x.text, tokens: x.tokens })) });
    } finally {
      await text.release();
    }
  }
  if (fallback) req.log(`onnxruntime provider: cpu (${fallback})`);
  req.note('model', {
    variant: req.variant,
    provider: providers.vision,
    providers,
    fallback: fallback ?? null,
    files: await describeFiles(needText ? files : { vision: files.vision, preprocessor: files.preprocessor }),
  });
  return { features, testFeatures, textFeatures };
}

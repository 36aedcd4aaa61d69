// Where the differentiable text model's weights and tokenizer come from: a local model directory
// (the ONNX text encoder the `embed` node uses — onnx/text_model.onnx or text_model.onnx, fp32 or
// fp16 — or a Hugging Face model.safetensors, plus tokenizer.json / vocab.json / the OpenAI BPE
// file), or the seeded random-weight synthetic model with its byte-level tokenizer.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ModelSourceError } from './model-source.js';
import { SYNTHETIC_TEXT_DEFAULTS, syntheticTextWeights, syntheticTokenizer, type SyntheticTextSpec } from './synthetic-text.js';
import { loadTextWeights, type TextModelWeights } from './text-weights.js';
import { loadTokenizer, type ClipTokenizer } from './tokenizer.js';

export type TextModelSpec = { dir: string } | { synthetic: Partial<SyntheticTextSpec> };

export interface TextModelFiles {
  weights: string;
  tokenizer: string;
}

const WEIGHT_FILES = ['onnx/text_model.onnx', 'text_model.onnx', 'onnx/text_model_fp16.onnx', 'text_model_fp16.onnx', 'model.safetensors'];
const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json', 'bpe_simple_vocab_16e6.txt.gz'];

/** The files a directory spec reads (undefined for the synthetic model); throws naming what is missing. */
export function textModelFiles(spec: TextModelSpec, baseDir: string): TextModelFiles | undefined {
  if ('synthetic' in spec) return undefined;
  const dir = resolve(baseDir, spec.dir);
  if (!existsSync(dir)) throw new ModelSourceError(`model directory ${dir} does not exist`);
  const weights = WEIGHT_FILES.map((f) => join(dir, f)).find((p) => existsSync(p));
  if (!weights) throw new ModelSourceError(`no text model in ${dir}: looked for ${WEIGHT_FILES.join(', ')}`);
  const tokenizer = TOKENIZER_FILES.map((f) => join(dir, f)).find((p) => existsSync(p));
  if (!tokenizer) throw new ModelSourceError(`no tokenizer in ${dir}: looked for ${TOKENIZER_FILES.join(', ')}`);
  return { weights, tokenizer };
}

export interface LoadedTextModel {
  weights: TextModelWeights;
  tokenizer: ClipTokenizer;
  /** What was loaded, for the log. */
  description: string;
}

export async function loadTextModelSpec(spec: TextModelSpec, baseDir: string, options: { heads?: number } = {}): Promise<LoadedTextModel> {
  if ('synthetic' in spec) {
    const s = { ...SYNTHETIC_TEXT_DEFAULTS, ...spec.synthetic };
    return { weights: syntheticTextWeights(s), tokenizer: syntheticTokenizer(), description: `synthetic random-weight text model ${JSON.stringify(s)}` };
  }
  const files = textModelFiles(spec, baseDir)!;
  const weights = await loadTextWeights(files.weights, options);
  return { weights, tokenizer: await loadTokenizer(files.tokenizer), description: `${files.weights} (${JSON.stringify(weights.config)})` };
}

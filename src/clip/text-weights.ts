// The weights of CLIP's text transformer, read from the same files the `embed` node uses: the ONNX
// text encoder's initializers (Hugging Face / optimum exports, or scripts/build-clip-onnx.ts), or a
// Hugging Face `model.safetensors` (`text_model.*` and `text_projection.weight`).
//
// Every weight is kept under its Hugging Face name without the `text_model.` prefix, and every
// linear weight as [in, out] (x·W, the orientation of ONNX MatMul initializers; safetensors'
// nn.Linear [out, in] weights are transposed on load). ONNX exports often give MatMul weights
// anonymous names (`onnx::MatMul_1234`): such a weight is named after the bias that the Add
// following its MatMul adds (`…q_proj.bias` → `…q_proj.weight`), and the one linear without a
// bias, text_projection, is the remaining [width, embedDim] MatMul weight fed by the final layer norm.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { decodeSafetensors } from '../runtime/store/safetensors.js';
import { float16ToFloat32 } from './float16.js';

const { onnx } = onnxProto;

export interface TextModelConfig {
  vocabSize: number;
  /** Positions of the position embedding (77 for CLIP). */
  contextLength: number;
  width: number;
  heads: number;
  layers: number;
  /** MLP hidden width (4·width in CLIP). */
  mlp: number;
  /** Output (joint embedding) dimension. */
  embedDim: number;
}

export interface LinearWeights {
  /** [in, out] row-major. */
  weight: Float32Array;
  bias: Float32Array;
}

export interface NormWeights {
  weight: Float32Array;
  bias: Float32Array;
}

export interface TextLayerWeights {
  ln1: NormWeights;
  q: LinearWeights;
  k: LinearWeights;
  v: LinearWeights;
  out: LinearWeights;
  ln2: NormWeights;
  fc1: LinearWeights;
  fc2: LinearWeights;
}

export interface TextModelWeights {
  config: TextModelConfig;
  /** [vocab, width]. */
  tokenEmbedding: Float32Array;
  /** [contextLength, width]. */
  positionEmbedding: Float32Array;
  layers: TextLayerWeights[];
  finalLn: NormWeights;
  /** [width, embedDim]. */
  projection: Float32Array;
  /** exp(logit_scale) when the file has it (CLIP: 100), else undefined. */
  logitScale?: number;
}

export class TextWeightsError extends Error {
  override name = 'TextWeightsError';
}

interface RawTensor {
  dims: number[];
  data: Float32Array;
}

/** Strips the export's prefixes and the builder's `_N` suffixes: `text_model.x.weight` / `x.weight_7` → `x.weight`. */
export function canonicalName(name: string): string {
  return name.replace(/^text_model\./, '').replace(/_\d+$/, '');
}

function floatData(t: OnnxTypes.ITensorProto, where: string): Float32Array {
  const DT = onnx.TensorProto.DataType;
  const count = (t.dims ?? []).reduce((a: number, b) => a * Number(b), 1);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  if (t.dataType === DT.FLOAT) {
    if (raw) {
      const copy = new Uint8Array(raw.byteLength);
      copy.set(raw);
      return new Float32Array(copy.buffer, 0, count);
    }
    return Float32Array.from(t.floatData ?? []);
  }
  if (t.dataType === DT.FLOAT16) {
    if (raw) {
      const copy = new Uint8Array(raw.byteLength);
      copy.set(raw);
      return float16ToFloat32(new Uint16Array(copy.buffer, 0, count));
    }
    // float16 values without raw_data are stored as uint16 bit patterns in int32_data.
    return float16ToFloat32(Uint16Array.from(t.int32Data ?? []));
  }
  throw new TextWeightsError(`${where}: initializer "${t.name}" has data type ${t.dataType}; only float32 and float16 text models can be loaded (not quantised ones)`);
}

function intData(t: OnnxTypes.ITensorProto): number[] {
  const DT = onnx.TensorProto.DataType;
  if (t.dataType !== DT.INT64) return [];
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData.byteLength);
    copy.set(t.rawData);
    return Array.from(new BigInt64Array(copy.buffer), Number);
  }
  return (t.int64Data ?? []).map(Number);
}

export interface OnnxTextWeights {
  tensors: Map<string, RawTensor>;
  /** Heads read from the graph's [0, 0, heads, headDim] reshape constants, when it has them. */
  heads?: number;
}

/** Reads the float initializers of an ONNX text encoder under canonical names (see the header). */
export function readOnnxTextWeights(bytes: Uint8Array, where = 'text_model.onnx'): OnnxTextWeights {
  let model: OnnxTypes.IModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new TextWeightsError(`${where}: not an ONNX model: ${(e as Error).message}`);
  }
  const graph = model.graph;
  if (!graph) throw new TextWeightsError(`${where}: the ONNX model has no graph`);
  const DT = onnx.TensorProto.DataType;
  const inits = new Map<string, OnnxTypes.ITensorProto>();
  for (const t of graph.initializer ?? []) if (t.name) inits.set(t.name, t);
  // Constant nodes carry tensors too (some exporters emit weights that way).
  for (const node of graph.node ?? []) {
    if (node.opType !== 'Constant') continue;
    const value = (node.attribute ?? []).find((a) => a.name === 'value')?.t;
    if (value && node.output?.[0]) inits.set(node.output[0], onnx.TensorProto.create({ ...value, name: node.output[0] }));
  }
  // Follow Identity nodes so a weight shared through one is still found.
  const alias = new Map<string, string>();
  for (const node of graph.node ?? []) {
    if (node.opType === 'Identity' && node.input?.[0] && inits.has(node.input[0]) && node.output?.[0]) alias.set(node.output[0], node.input[0]);
  }
  const initOf = (value: string | undefined) => (value === undefined ? undefined : inits.get(alias.get(value) ?? value));

  const tensors = new Map<string, RawTensor>();
  const take = (name: string, t: OnnxTypes.ITensorProto) => {
    tensors.set(name, { dims: (t.dims ?? []).map(Number), data: floatData(t, where) });
  };
  let heads: number | undefined;
  for (const [name, t] of inits) {
    if (t.dataType === DT.FLOAT || t.dataType === DT.FLOAT16) {
      const canonical = canonicalName(name);
      if (/^(embeddings|encoder|final_layer_norm|text_projection)/.test(canonical)) take(canonical, t);
    } else if (t.dataType === DT.INT64 && /split_shape/.test(name)) {
      const shape = intData(t);
      if (shape.length === 4 && shape[2] > 0) heads = shape[2];
    }
  }
  // Anonymous MatMul weights: named after the bias their MatMul's output receives.
  const consumers = new Map<string, OnnxTypes.INodeProto[]>();
  for (const node of graph.node ?? []) {
    for (const input of node.input ?? []) {
      const list = consumers.get(input) ?? [];
      list.push(node);
      consumers.set(input, list);
    }
  }
  const anonymous: { name: string; init: OnnxTypes.ITensorProto; input: string }[] = [];
  for (const node of graph.node ?? []) {
    if (node.opType !== 'MatMul' || !node.input || node.input.length < 2) continue;
    const w = initOf(node.input[1]);
    if (!w || !(w.dataType === DT.FLOAT || w.dataType === DT.FLOAT16)) continue;
    if (/\.weight$/.test(canonicalName(w.name ?? ''))) continue;
    const add = (consumers.get(node.output?.[0] ?? '') ?? []).find((c) => c.opType === 'Add');
    const biasName = add?.input?.map((i) => initOf(i)?.name ?? undefined).find((n): n is string => typeof n === 'string' && /\.bias$/.test(canonicalName(n)));
    if (biasName) take(canonicalName(biasName).replace(/\.bias$/, '.weight'), w);
    else anonymous.push({ name: w.name ?? '', init: w, input: node.input[0] });
  }
  if (!tensors.has('text_projection.weight')) {
    const last = anonymous.at(-1);
    if (last) take('text_projection.weight', last.init);
  }
  return { tensors, heads };
}

function need(tensors: Map<string, RawTensor>, name: string, dims: number[] | null, where: string): RawTensor {
  const t = tensors.get(name);
  if (!t) throw new TextWeightsError(`${where}: no weight "${name}" (has ${[...tensors.keys()].slice(0, 6).join(', ')}${tensors.size > 6 ? ', …' : ''})`);
  if (dims && (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i]))) {
    throw new TextWeightsError(`${where}: weight "${name}" has shape [${t.dims.join(', ')}], expected [${dims.join(', ')}]`);
  }
  return t;
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** Assembles the weights from canonical tensors; `linear` says how linear weights are stored. */
export function assembleTextWeights(
  tensors: Map<string, RawTensor>, linear: 'in-out' | 'out-in', heads: number | undefined, where: string,
): TextModelWeights {
  // Position embeddings: HF names end in .weight; the builder's have no suffix.
  const get = (name: string) => tensors.get(name) ?? tensors.get(name.replace(/\.weight$/, ''));
  const token = get('embeddings.token_embedding.weight');
  const position = get('embeddings.position_embedding.weight');
  if (!token || !position) throw new TextWeightsError(`${where}: no token or position embedding (is this a CLIP text model?)`);
  const [vocabSize, width] = token.dims;
  const contextLength = position.dims[0];
  let layers = 0;
  while (tensors.has(`encoder.layers.${layers}.layer_norm1.weight`)) layers++;
  if (layers === 0) throw new TextWeightsError(`${where}: no encoder layers (encoder.layers.0.layer_norm1.weight)`);
  const fc1 = need(tensors, 'encoder.layers.0.mlp.fc1.weight', null, where);
  const mlp = linear === 'in-out' ? fc1.dims[1] : fc1.dims[0];
  const proj = need(tensors, 'text_projection.weight', null, where);
  const embedDim = linear === 'in-out' ? proj.dims[1] : proj.dims[0];
  const h = heads ?? Math.max(1, Math.round(width / 64));
  if (width % h !== 0) throw new TextWeightsError(`${where}: width ${width} is not divisible by ${h} heads`);
  const config: TextModelConfig = { vocabSize, contextLength, width, heads: h, layers, mlp, embedDim };
  const lin = (name: string, inDim: number, outDim: number): LinearWeights => {
    const w = need(tensors, `${name}.weight`, linear === 'in-out' ? [inDim, outDim] : [outDim, inDim], where);
    const bias = need(tensors, `${name}.bias`, [outDim], where).data;
    return { weight: linear === 'in-out' ? w.data : transpose(w.data, outDim, inDim), bias };
  };
  const norm = (name: string): NormWeights => ({
    weight: need(tensors, `${name}.weight`, [width], where).data,
    bias: need(tensors, `${name}.bias`, [width], where).data,
  });
  const layerWeights: TextLayerWeights[] = [];
  for (let l = 0; l < layers; l++) {
    const p = `encoder.layers.${l}`;
    layerWeights.push({
      ln1: norm(`${p}.layer_norm1`),
      q: lin(`${p}.self_attn.q_proj`, width, width),
      k: lin(`${p}.self_attn.k_proj`, width, width),
      v: lin(`${p}.self_attn.v_proj`, width, width),
      out: lin(`${p}.self_attn.out_proj`, width, width),
      ln2: norm(`${p}.layer_norm2`),
      fc1: lin(`${p}.mlp.fc1`, width, mlp),
      fc2: lin(`${p}.mlp.fc2`, mlp, width),
    });
  }
  return {
    config,
    tokenEmbedding: token.data,
    positionEmbedding: position.data,
    layers: layerWeights,
    finalLn: norm('final_layer_norm'),
    projection: linear === 'in-out' ? proj.data : transpose(proj.data, embedDim, width),
  };
}

/**
 * text_config.num_attention_heads from a Hugging Face config.json beside the model (or its parent).
 * Its logit_scale_init_value is the *initial* scale, not the trained one, so it is not used.
 */
async function hfConfig(dir: string): Promise<{ heads?: number }> {
  for (const path of [join(dir, 'config.json'), join(dirname(dir), 'config.json')]) {
    if (!existsSync(path)) continue;
    try {
      const json = JSON.parse(await readFile(path, 'utf8')) as { text_config?: { num_attention_heads?: number } };
      return { heads: json.text_config?.num_attention_heads };
    } catch {
      return {};
    }
  }
  return {};
}

/** Loads an ONNX text encoder's weights; heads from the graph, else config.json, else width/64. */
export async function loadTextWeightsFromOnnx(path: string, options: { heads?: number } = {}): Promise<TextModelWeights> {
  const { tensors, heads } = readOnnxTextWeights(new Uint8Array(await readFile(path)), path);
  const cfg = await hfConfig(dirname(path));
  return assembleTextWeights(tensors, 'in-out', options.heads ?? heads ?? cfg.heads, path);
}

/** Loads the text tower of a Hugging Face CLIP `model.safetensors` (float32 or float16). */
export async function loadTextWeightsFromSafetensors(path: string, options: { heads?: number } = {}): Promise<TextModelWeights> {
  const { tensors } = decodeSafetensors(new Uint8Array(await readFile(path)));
  const raw = new Map<string, RawTensor>();
  let logitScale: number | undefined;
  for (const [name, t] of Object.entries(tensors)) {
    const data = t.dtype === 'float32' ? Float32Array.from(t.data as Float32Array)
      : t.dtype === 'float16' ? float16ToFloat32(Uint16Array.from(t.data as Uint16Array)) : undefined;
    if (!data) continue;
    if (name === 'logit_scale') logitScale = Math.exp(data[0]);
    if (name.startsWith('text_model.') || name === 'text_projection.weight') raw.set(canonicalName(name), { dims: [...t.shape], data });
  }
  const cfg = await hfConfig(dirname(path));
  const weights = assembleTextWeights(raw, 'out-in', options.heads ?? cfg.heads, path);
  return { ...weights, logitScale };
}

/** By extension: `.safetensors` or ONNX. */
export function loadTextWeights(path: string, options: { heads?: number } = {}): Promise<TextModelWeights> {
  return path.endsWith('.safetensors') ? loadTextWeightsFromSafetensors(path, options) : loadTextWeightsFromOnnx(path, options);
}

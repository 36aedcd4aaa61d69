// Writes random-weight (seeded) CLIP encoders with the shapes of OpenAI's ViT-B/32 in the layout of
// the Hugging Face ONNX exports (onnx/vision_model.onnx, onnx/text_model.onnx,
// preprocessor_config.json), for benchmarks and tests that need real-sized graphs without real
// weights. The graphs use standard opset-17 operators only.
//
//   npx tsx scripts/build-clip-onnx.ts --out DIR [--seed 0] [--vision-only] [--tokenizer DIR]
//
// The vision file is ~350 MB (88M float32 parameters): never commit it.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import onnxProto from 'onnx-proto';
import { createRng } from '../src/random/rng.js';

const { onnx } = onnxProto;
export const DataType = onnx.TensorProto.DataType;
type ElemType = (typeof DataType)[keyof typeof DataType];
type OnnxTensor = InstanceType<typeof onnx.TensorProto>;

export type TensorData = Float32Array | Uint16Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

export type AttrValue = { i: number } | { ints: number[] } | { f: number } | { floats: number[] } | { s: string };

function attribute(name: string, value: AttrValue): InstanceType<typeof onnx.AttributeProto> {
  const A = onnx.AttributeProto.AttributeType;
  if ('i' in value) return onnx.AttributeProto.create({ name, type: A.INT, i: value.i });
  if ('ints' in value) return onnx.AttributeProto.create({ name, type: A.INTS, ints: value.ints });
  if ('f' in value) return onnx.AttributeProto.create({ name, type: A.FLOAT, f: value.f });
  if ('floats' in value) return onnx.AttributeProto.create({ name, type: A.FLOATS, floats: value.floats });
  return onnx.AttributeProto.create({ name, type: A.STRING, s: new TextEncoder().encode(value.s) });
}

/** A small builder for ONNX graphs: names are generated, weights stored as raw_data. */
export class OnnxGraph {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: OnnxTensor[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  private valueInfo(name: string, elemType: ElemType, dims: ReadonlyArray<number | string>) {
    return onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType,
          shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
  }

  /** A graph input; string dims are symbolic (e.g. "batch_size"). */
  input(name: string, elemType: ElemType, dims: ReadonlyArray<number | string>): string {
    this.inputs.push(this.valueInfo(name, elemType, dims));
    return name;
  }

  /** Marks `value` as a graph output called `name` (through Identity when the names differ). */
  output(value: string, name: string, elemType: ElemType, dims: ReadonlyArray<number | string>): void {
    if (value !== name) this.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [value], output: [name], name: `out_${name}` }));
    this.outputs.push(this.valueInfo(name, elemType, dims));
  }

  /** A constant tensor; the data's bytes are stored as-is (raw_data is little-endian, as is every host we run on). */
  init(name: string, elemType: ElemType, dims: readonly number[], data: TensorData): string {
    const unique = `${name}_${this.counter++}`;
    this.initializers.push(
      onnx.TensorProto.create({ name: unique, dataType: elemType, dims: [...dims], rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }),
    );
    return unique;
  }

  /** int64 constant (shapes, axes, indices). */
  ints(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.init(name, DataType.INT64, dims, BigInt64Array.from(values.map((v) => BigInt(v))));
  }

  /** float32 scalar constant. */
  scalar(name: string, value: number): string {
    return this.init(name, DataType.FLOAT, [], Float32Array.of(value));
  }

  /** Adds a node and returns its output names (`count` of them). */
  opN(opType: string, inputs: readonly string[], count: number, attrs: Record<string, AttrValue> = {}, domain = ''): string[] {
    const id = this.counter++;
    const output = Array.from({ length: count }, (_, i) => `${opType.toLowerCase()}_${id}_${i}`);
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        domain,
        name: `${opType}_${id}`,
        input: [...inputs],
        output,
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return output;
  }

  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}): string {
    return this.opN(opType, inputs, 1, attrs)[0];
  }

  /** Serialises to ONNX bytes (IR 8, opset 17). */
  encode(opset = 17): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'sieve build-clip-onnx',
      opsetImport: [{ domain: '', version: opset }],
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

// ---------------------------------------------------------------------------------------------
// CLIP transformer encoders with random weights.

export interface VisionConfig {
  imageSize: number;
  patchSize: number;
  width: number;
  layers: number;
  heads: number;
  mlp: number;
  embedDim: number;
}

export interface TextConfig {
  vocabSize: number;
  contextLength: number;
  width: number;
  layers: number;
  heads: number;
  mlp: number;
  embedDim: number;
}

/** OpenAI CLIP ViT-B/32 image tower. */
export const VIT_B32: VisionConfig = { imageSize: 224, patchSize: 32, width: 768, layers: 12, heads: 12, mlp: 3072, embedDim: 512 };
/** OpenAI CLIP ViT-B/32 text tower. */
export const TEXT_B32: TextConfig = { vocabSize: 49408, contextLength: 77, width: 512, layers: 12, heads: 8, mlp: 2048, embedDim: 512 };

/** Seeded weights: each tensor has its own stream, so adding a tensor does not change the others. */
class Weights {
  constructor(
    private readonly graph: OnnxGraph,
    private readonly seed: number,
    /** Standard deviation of seeded noise added to the constant (bias and layer-norm) tensors. */
    private readonly jitter = 0,
  ) {}

  normal(name: string, dims: readonly number[], std: number): string {
    const rng = createRng(this.seed, `clip-onnx/${name}`);
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
    return this.graph.init(name, DataType.FLOAT, dims, data);
  }

  constant(name: string, dims: readonly number[], value: number): string {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value);
    if (this.jitter > 0) {
      const rng = createRng(this.seed, `clip-onnx/${name}`);
      for (let i = 0; i < data.length; i++) data[i] += rng.normal() * this.jitter;
    }
    return this.graph.init(name, DataType.FLOAT, dims, data);
  }
}

function layerNorm(g: OnnxGraph, w: Weights, x: string, width: number, name: string): string {
  const scale = w.constant(`${name}.weight`, [width], 1);
  const bias = w.constant(`${name}.bias`, [width], 0);
  return g.op('LayerNormalization', [x, scale, bias], { axis: { i: -1 }, epsilon: { f: 1e-5 } });
}

function linear(g: OnnxGraph, w: Weights, x: string, inDim: number, outDim: number, name: string, bias = true): string {
  const y = g.op('MatMul', [x, w.normal(`${name}.weight`, [inDim, outDim], 0.02)]);
  return bias ? g.op('Add', [y, w.constant(`${name}.bias`, [outDim], 0)]) : y;
}

/** Multi-head self-attention on [B, T, width]; `mask` is added to the [B, H, T, T] scores. */
function attention(g: OnnxGraph, w: Weights, x: string, width: number, heads: number, name: string, mask?: string): string {
  const headDim = width / heads;
  const split = g.ints(`${name}.split_shape`, [0, 0, heads, headDim]);
  const merge = g.ints(`${name}.merge_shape`, [0, 0, width]);
  const toHeads = (t: string) => g.op('Transpose', [g.op('Reshape', [t, split])], { perm: { ints: [0, 2, 1, 3] } });
  const q = toHeads(g.op('Mul', [linear(g, w, x, width, width, `${name}.q_proj`), g.scalar(`${name}.scale`, 1 / Math.sqrt(headDim))]));
  const kT = g.op('Transpose', [g.op('Reshape', [linear(g, w, x, width, width, `${name}.k_proj`), split])], { perm: { ints: [0, 2, 3, 1] } });
  const v = toHeads(linear(g, w, x, width, width, `${name}.v_proj`));
  let scores = g.op('MatMul', [q, kT]);
  if (mask) scores = g.op('Add', [scores, mask]);
  const context = g.op('MatMul', [g.op('Softmax', [scores], { axis: { i: -1 } }), v]);
  const merged = g.op('Reshape', [g.op('Transpose', [context], { perm: { ints: [0, 2, 1, 3] } }), merge]);
  return linear(g, w, merged, width, width, `${name}.out_proj`);
}

/** CLIP's QuickGELU: x · sigmoid(1.702 x). */
function quickGelu(g: OnnxGraph, x: string, name: string): string {
  return g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, g.scalar(`${name}.quick_gelu`, 1.702)])])]);
}

/** Pre-LN residual block: x + attn(ln1(x)), then + mlp(ln2(x)). */
function encoderLayer(g: OnnxGraph, w: Weights, x: string, width: number, heads: number, mlp: number, name: string, mask?: string): string {
  const attended = g.op('Add', [x, attention(g, w, layerNorm(g, w, x, width, `${name}.layer_norm1`), width, heads, `${name}.self_attn`, mask)]);
  const hidden = quickGelu(g, linear(g, w, layerNorm(g, w, attended, width, `${name}.layer_norm2`), width, mlp, `${name}.mlp.fc1`), `${name}.mlp`);
  return g.op('Add', [attended, linear(g, w, hidden, mlp, width, `${name}.mlp.fc2`)]);
}

/** ViT image encoder: pixel_values [B, 3, S, S] → image_embeds [B, embedDim]. */
export function buildVisionModel(config: VisionConfig, seed: number): Uint8Array {
  const { imageSize, patchSize, width, layers, heads, mlp, embedDim } = config;
  if (imageSize % patchSize !== 0) throw new RangeError(`imageSize ${imageSize} is not a multiple of patchSize ${patchSize}`);
  const g = new OnnxGraph('clip_vision');
  const w = new Weights(g, seed);
  const tokens = (imageSize / patchSize) ** 2 + 1;
  const pixels = g.input('pixel_values', DataType.FLOAT, ['batch_size', 3, imageSize, imageSize]);
  const conv = g.op('Conv', [pixels, w.normal('embeddings.patch_embedding.weight', [width, 3, patchSize, patchSize], 0.02)], {
    kernel_shape: { ints: [patchSize, patchSize] },
    strides: { ints: [patchSize, patchSize] },
  });
  const patches = g.op('Transpose', [g.op('Reshape', [conv, g.ints('patch_shape', [0, width, -1])])], { perm: { ints: [0, 2, 1] } });
  // The class token, broadcast to [B, 1, width] with the batch size read from the input.
  const batch = g.op('Slice', [g.op('Shape', [patches]), g.ints('zero', [0]), g.ints('one', [1])]);
  const classShape = g.op('Concat', [batch, g.ints('class_tail', [1, width])], { axis: { i: 0 } });
  const classToken = g.op('Expand', [w.normal('embeddings.class_embedding', [1, 1, width], 0.02), classShape]);
  let x = g.op('Concat', [classToken, patches], { axis: { i: 1 } });
  x = g.op('Add', [x, w.normal('embeddings.position_embedding', [tokens, width], 0.01)]);
  x = layerNorm(g, w, x, width, 'pre_layrnorm');
  for (let l = 0; l < layers; l++) x = encoderLayer(g, w, x, width, heads, mlp, `encoder.layers.${l}`);
  const pooled = layerNorm(g, w, g.op('Gather', [x, g.ints('class_index', [0], [])], { axis: { i: 1 } }), width, 'post_layernorm');
  g.output(linear(g, w, pooled, width, embedDim, 'visual_projection', false), 'image_embeds', DataType.FLOAT, ['batch_size', embedDim]);
  return g.encode();
}

/**
 * Causal text encoder: input_ids [B, T] → text_embeds [B, embedDim], pooled at argmax(input_ids) (the EOT token).
 * `jitter` > 0 adds seeded noise of that standard deviation to biases and layer-norm parameters
 * (which are otherwise 0 and 1), so tests of other implementations exercise every weight.
 */
export function buildTextModel(config: TextConfig, seed: number, options: { jitter?: number } = {}): Uint8Array {
  const { vocabSize, contextLength: T, width, layers, heads, mlp, embedDim } = config;
  const g = new OnnxGraph('clip_text');
  const w = new Weights(g, seed, options.jitter ?? 0);
  const ids = g.input('input_ids', DataType.INT64, ['batch_size', T]);
  let x = g.op('Gather', [w.normal('embeddings.token_embedding', [vocabSize, width], 0.02), ids], { axis: { i: 0 } });
  x = g.op('Add', [x, w.normal('embeddings.position_embedding', [T, width], 0.01)]);
  // Causal mask: position i attends to j <= i.
  const causal = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) causal[i * T + j] = -3.4028234663852886e38;
  const mask = g.init('causal_mask', DataType.FLOAT, [T, T], causal);
  for (let l = 0; l < layers; l++) x = encoderLayer(g, w, x, width, heads, mlp, `encoder.layers.${l}`, mask);
  x = layerNorm(g, w, x, width, 'final_layer_norm');
  // The end-of-text token has the largest id, so argmax(input_ids) finds it (as CLIP does).
  const eot = g.op('ArgMax', [g.op('Cast', [ids], { to: { i: DataType.INT32 } })], { axis: { i: 1 }, keepdims: { i: 1 } });
  const pooled = g.op('GatherND', [x, eot], { batch_dims: { i: 1 } });
  g.output(linear(g, w, pooled, width, embedDim, 'text_projection', false), 'text_embeds', DataType.FLOAT, ['batch_size', embedDim]);
  return g.encode();
}

/** preprocessor_config.json for a square input of `imageSize` with CLIP's statistics. */
export function preprocessorConfigJson(imageSize: number): string {
  return `${JSON.stringify(
    {
      crop_size: { height: imageSize, width: imageSize },
      do_center_crop: true,
      do_convert_rgb: true,
      do_normalize: true,
      do_rescale: true,
      do_resize: true,
      image_mean: [0.48145466, 0.4578275, 0.40821073],
      image_processor_type: 'CLIPImageProcessor',
      image_std: [0.26862954, 0.26130258, 0.27577711],
      resample: 3,
      rescale_factor: 1 / 255,
      size: { shortest_edge: imageSize },
    },
    null,
    2,
  )}\n`;
}

export interface BuildOptions {
  out: string;
  seed?: number;
  vision?: VisionConfig;
  /** null: no text encoder. */
  text?: TextConfig | null;
  /** Directory holding tokenizer.json (copied next to the models when present). */
  tokenizerDir?: string;
}

/** Writes the model directory; returns the paths written. */
export async function writeClipOnnx(options: BuildOptions): Promise<{ vision: string; text?: string }> {
  const seed = options.seed ?? 0;
  const vision = options.vision ?? VIT_B32;
  await mkdir(join(options.out, 'onnx'), { recursive: true });
  const visionPath = join(options.out, 'onnx', 'vision_model.onnx');
  await writeFile(visionPath, buildVisionModel(vision, seed));
  await writeFile(join(options.out, 'preprocessor_config.json'), preprocessorConfigJson(vision.imageSize));
  let textPath: string | undefined;
  if (options.text !== null) {
    textPath = join(options.out, 'onnx', 'text_model.onnx');
    await writeFile(textPath, buildTextModel(options.text ?? TEXT_B32, seed + 1));
  }
  const tokenizer = options.tokenizerDir && join(options.tokenizerDir, 'tokenizer.json');
  // Copied by content: the source may be read-only and its mode should not follow.
  if (tokenizer && existsSync(tokenizer)) await writeFile(join(options.out, 'tokenizer.json'), await readFile(tokenizer));
  return { vision: visionPath, text: textPath };
}

async function main(argv: string[]): Promise<void> {
  const arg = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const out = arg('--out');
  if (!out) {
    console.error('usage: npx tsx scripts/build-clip-onnx.ts --out DIR [--seed N] [--vision-only] [--tokenizer DIR]');
    process.exit(2);
  }
  const started = Date.now();
  const written = await writeClipOnnx({
    out: resolve(out),
    seed: Number(arg('--seed') ?? 0),
    text: argv.includes('--vision-only') ? null : undefined,
    tokenizerDir: arg('--tokenizer'),
  });
  console.log(`wrote ${Object.values(written).join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main(process.argv.slice(2));
}

// A random-weight CLIP text model and a byte-level CLIP tokenizer, built in memory from a seed, so
// that prompt learning can be demonstrated and tested offline. Nothing here is CLIP: the weights are
// random (seeded), the tokenizer is CLIP's BPE with no merges (every byte a token, 256 + 256 `</w>`
// pieces + the two specials = 514 ids, the end-of-text token last as in CLIP).
import { createRng } from '../random/rng.js';
import type { LinearWeights, NormWeights, TextModelWeights } from './text-weights.js';
import { ClipTokenizer, vocabularyFromMerges } from './tokenizer.js';

export interface SyntheticTextSpec {
  width: number;
  layers: number;
  heads: number;
  embed_dim: number;
  seed: number;
}

export const SYNTHETIC_TEXT_DEFAULTS: SyntheticTextSpec = { width: 64, layers: 2, heads: 4, embed_dim: 64, seed: 0 };

/** The byte-level tokenizer (CLIP's BPE without merges). */
export function syntheticTokenizer(): ClipTokenizer {
  return new ClipTokenizer(vocabularyFromMerges([]), []);
}

/**
 * Seeded weights: token embeddings N(0, 0.02²) and position embeddings N(0, 0.01²) as CLIP
 * initialises them, linear weights N(0, 1/fan_in) (so attention mixes tokens from the first layer
 * on), biases N(0, 0.02²), layer norms 1 + N(0, 0.02²) and N(0, 0.02²).
 */
export function syntheticTextWeights(spec: Partial<SyntheticTextSpec> = {}): TextModelWeights {
  const s = { ...SYNTHETIC_TEXT_DEFAULTS, ...spec };
  const vocabSize = 514;
  const contextLength = 77;
  const mlp = 4 * s.width;
  const normal = (name: string, count: number, std: number, mean = 0) => {
    const rng = createRng(s.seed, `synthetic-text/${name}`);
    return Float32Array.from({ length: count }, () => mean + rng.normal() * std);
  };
  const lin = (name: string, inDim: number, outDim: number): LinearWeights => ({
    weight: normal(`${name}.weight`, inDim * outDim, 1 / Math.sqrt(inDim)),
    bias: normal(`${name}.bias`, outDim, 0.02),
  });
  const norm = (name: string): NormWeights => ({ weight: normal(`${name}.weight`, s.width, 0.02, 1), bias: normal(`${name}.bias`, s.width, 0.02) });
  return {
    config: { vocabSize, contextLength, width: s.width, heads: s.heads, layers: s.layers, mlp, embedDim: s.embed_dim },
    tokenEmbedding: normal('token_embedding', vocabSize * s.width, 0.02),
    positionEmbedding: normal('position_embedding', contextLength * s.width, 0.01),
    layers: Array.from({ length: s.layers }, (_, l) => ({
      ln1: norm(`${l}.ln1`),
      q: lin(`${l}.q`, s.width, s.width),
      k: lin(`${l}.k`, s.width, s.width),
      v: lin(`${l}.v`, s.width, s.width),
      out: lin(`${l}.out`, s.width, s.width),
      ln2: norm(`${l}.ln2`),
      fc1: lin(`${l}.fc1`, s.width, mlp),
      fc2: lin(`${l}.fc2`, mlp, s.width),
    })),
    finalLn: norm('final'),
    projection: normal('projection', s.width * s.embed_dim, 1 / Math.sqrt(s.width)),
  };
}

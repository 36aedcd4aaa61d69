// CLIP's byte-level BPE tokenizer, reproducing OpenAI's `SimpleTokenizer` (clip/simple_tokenizer.py):
// clean the text, split it into words with CLIP's regex, map each word's UTF-8 bytes to printable
// characters (`bytes_to_unicode`), mark the word end with `</w>` and apply merges by rank.
// The vocabulary comes from a Hugging Face `tokenizer.json`, a `vocab.json` + `merges.txt` pair, or
// the original `bpe_simple_vocab_16e6.txt.gz`; all give the same ids.
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { cleanText } from './text-clean.js';

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
export const CONTEXT_LENGTH = 77;
/** Number of merges OpenAI reads from the gzip file: 49152 - 256 - 2. */
const OPENAI_MERGE_COUNT = 49152 - 256 - 2;

const WORD_PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\p{White_Space}\p{L}\p{N}]+/gu;

export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

/**
 * GPT-2's reversible byte → printable character map: printable Latin-1 bytes map to themselves,
 * the rest to U+0100 onwards, in byte order. Index = byte; the array order of `bytesToUnicodeOrder`
 * (printable first) is the order of the first 256 vocabulary entries.
 */
function buildByteTables(): { byteToChar: string[]; vocabOrder: string[] } {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const byteToChar = new Array<string>(256);
  const vocabOrder: string[] = [];
  for (const b of printable) {
    byteToChar[b] = String.fromCodePoint(b);
    vocabOrder.push(byteToChar[b]);
  }
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (byteToChar[b] !== undefined) continue;
    byteToChar[b] = String.fromCodePoint(256 + extra++);
    vocabOrder.push(byteToChar[b]);
  }
  return { byteToChar, vocabOrder };
}

const { byteToChar: BYTE_TO_CHAR, vocabOrder: BYTE_VOCAB_ORDER } = buildByteTables();
const utf8 = new TextEncoder();

export interface TokenizeOptions {
  contextLength?: number;
  /** Cut long texts to the context (keeping the end-of-text token last); otherwise throw. */
  truncate?: boolean;
  /** Called for each text cut to the context: its index in the batch and its full token count (with start and end). */
  onTruncated?(index: number, tokens: number): void;
}

export class ClipTokenizer {
  readonly startOfText: number;
  readonly endOfText: number;
  /** Merge rank by "left right" (pieces never contain a space: the space byte maps to 'Ġ'). */
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, string[]>();

  constructor(
    readonly encoder: ReadonlyMap<string, number>,
    merges: ReadonlyArray<readonly [string, string]>,
  ) {
    this.ranks = new Map(merges.map(([a, b], i) => [`${a} ${b}`, i]));
    const sot = encoder.get(START_OF_TEXT);
    const eot = encoder.get(END_OF_TEXT);
    if (sot === undefined || eot === undefined) {
      throw new TokenizerError(`vocabulary lacks ${START_OF_TEXT} or ${END_OF_TEXT}`);
    }
    this.startOfText = sot;
    this.endOfText = eot;
  }

  get vocabSize(): number {
    return this.encoder.size;
  }

  /** Token ids of `text` without start/end tokens. */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const piece of this.pieces(text)) {
      const id = this.encoder.get(piece);
      if (id === undefined) throw new TokenizerError(`BPE piece "${piece}" of "${text}" is not in the vocabulary`);
      ids.push(id);
    }
    return ids;
  }

  /** The BPE pieces (vocabulary strings) of `text`, for inspection. */
  pieces(text: string): string[] {
    const out: string[] = [];
    for (const match of cleanText(text).matchAll(WORD_PATTERN)) {
      const word = match[0];
      if (word === START_OF_TEXT || word === END_OF_TEXT) {
        out.push(word);
        continue;
      }
      let mapped = '';
      for (const byte of utf8.encode(word)) mapped += BYTE_TO_CHAR[byte];
      out.push(...this.bpe(mapped));
    }
    return out;
  }

  /**
   * Token ids for a batch as a [B, contextLength] Int32Array: start token, ids, end token, zeros.
   * Like `clip.tokenize`: when truncating, the last kept token is replaced by the end token.
   */
  tokenize(texts: readonly string[], options: TokenizeOptions = {}): Int32Array {
    const contextLength = options.contextLength ?? CONTEXT_LENGTH;
    const truncate = options.truncate ?? true;
    if (!Number.isInteger(contextLength) || contextLength < 2) {
      throw new TokenizerError(`contextLength must be an integer >= 2, got ${contextLength}`);
    }
    const out = new Int32Array(texts.length * contextLength);
    texts.forEach((text, i) => {
      const ids = [this.startOfText, ...this.encode(text), this.endOfText];
      if (ids.length > contextLength) {
        if (!truncate) {
          throw new TokenizerError(`text "${text}" has ${ids.length} tokens, more than the context length ${contextLength}`);
        }
        options.onTruncated?.(i, ids.length);
        ids.length = contextLength;
        ids[contextLength - 1] = this.endOfText;
      }
      out.set(ids, i * contextLength);
    });
    return out;
  }

  /** Merges a byte-mapped word, lowest rank first, with `</w>` on its last symbol. */
  private bpe(word: string): string[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    const symbols = Array.from(word);
    symbols[symbols.length - 1] += '</w>';
    while (symbols.length > 1) {
      let best = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i + 1 < symbols.length; i++) {
        const rank = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (rank !== undefined && rank < best) {
          best = rank;
          first = symbols[i];
          second = symbols[i + 1];
        }
      }
      if (best === Infinity) break;
      // Merge every occurrence of the pair, left to right, as the reference does.
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === first && symbols[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else {
          merged.push(symbols[i]);
        }
      }
      symbols.splice(0, symbols.length, ...merged);
    }
    this.cache.set(word, symbols);
    return symbols;
  }
}

function splitMerge(line: string, where: string): [string, string] {
  const parts = line.split(' ');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new TokenizerError(`malformed merge "${line}" in ${where}`);
  return [parts[0], parts[1]];
}

/** Builds OpenAI's vocabulary from merges: bytes, bytes + `</w>`, merged pairs, the two specials. */
export function vocabularyFromMerges(merges: ReadonlyArray<readonly [string, string]>): Map<string, number> {
  const vocab = [...BYTE_VOCAB_ORDER, ...BYTE_VOCAB_ORDER.map((c) => `${c}</w>`), ...merges.map(([a, b]) => a + b)];
  vocab.push(START_OF_TEXT, END_OF_TEXT);
  return new Map(vocab.map((token, id) => [token, id]));
}

/** From OpenAI's `bpe_simple_vocab_16e6.txt.gz` (a header line, then merges). */
export function tokenizerFromOpenAIBpe(gzipped: Uint8Array, where = 'bpe_simple_vocab_16e6.txt.gz'): ClipTokenizer {
  const lines = gunzipSync(gzipped).toString('utf8').split(/\r?\n/);
  if (lines.length < OPENAI_MERGE_COUNT + 1) {
    throw new TokenizerError(`${where} has ${lines.length - 1} merge lines, expected at least ${OPENAI_MERGE_COUNT}`);
  }
  const merges = lines.slice(1, OPENAI_MERGE_COUNT + 1).map((line) => splitMerge(line, where));
  return new ClipTokenizer(vocabularyFromMerges(merges), merges);
}

interface TokenizerJson {
  model?: { type?: string; vocab?: Record<string, number>; merges?: Array<string | [string, string]> };
}

/** From a Hugging Face `tokenizer.json` (BPE model with `vocab` and `merges`). */
export function tokenizerFromHuggingFaceJson(json: string, where = 'tokenizer.json'): ClipTokenizer {
  let parsed: TokenizerJson;
  try {
    parsed = JSON.parse(json) as TokenizerJson;
  } catch (e) {
    throw new TokenizerError(`${where} is not valid JSON: ${(e as Error).message}`);
  }
  const model = parsed.model;
  if (!model || model.type !== 'BPE' || !model.vocab || !model.merges) {
    throw new TokenizerError(`${where} has no BPE model with vocab and merges`);
  }
  // Newer files store merges as pairs, older ones as "left right" strings.
  const merges = model.merges.map((m) => (typeof m === 'string' ? splitMerge(m, where) : ([m[0], m[1]] as [string, string])));
  return new ClipTokenizer(new Map(Object.entries(model.vocab)), merges);
}

/** From a Hugging Face `vocab.json` + `merges.txt` pair (merges.txt starts with a "#version" line). */
export function tokenizerFromVocabAndMerges(vocabJson: string, mergesTxt: string, where = 'vocab.json/merges.txt'): ClipTokenizer {
  const vocab = JSON.parse(vocabJson) as Record<string, number>;
  const merges = mergesTxt
    .split(/\r?\n/)
    .filter((line) => line.length > 0 && !line.startsWith('#version'))
    .map((line) => splitMerge(line, where));
  return new ClipTokenizer(new Map(Object.entries(vocab)), merges);
}

/** Loads a tokenizer from a file, choosing the format by name. */
export async function loadTokenizer(path: string): Promise<ClipTokenizer> {
  if (path.endsWith('.gz')) return tokenizerFromOpenAIBpe(await readFile(path), path);
  if (path.endsWith('.json') && !path.endsWith('vocab.json')) return tokenizerFromHuggingFaceJson(await readFile(path, 'utf8'), path);
  if (path.endsWith('vocab.json')) {
    const mergesPath = path.replace(/vocab\.json$/, 'merges.txt');
    return tokenizerFromVocabAndMerges(await readFile(path, 'utf8'), await readFile(mergesPath, 'utf8'), path);
  }
  throw new TokenizerError(`unknown tokenizer file format: ${path} (expected tokenizer.json, vocab.json or *.txt.gz)`);
}

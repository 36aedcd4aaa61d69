import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { basicClean, cleanText, htmlUnescape, whitespaceClean } from '../../src/clip/text-clean.js';
import { createRng } from '../../src/random/rng.js';
import {
  ClipTokenizer,
  TokenizerError,
  loadTokenizer,
  tokenizerFromHuggingFaceJson,
  tokenizerFromOpenAIBpe,
  vocabularyFromMerges,
} from '../../src/clip/tokenizer.js';

const TOKENIZER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data/clip-tokenizer');
const HAVE_FILES = existsSync(join(TOKENIZER_DIR, 'tokenizer.json')) && existsSync(join(TOKENIZER_DIR, 'bpe_simple_vocab_16e6.txt.gz'));
const SOT = 49406;
const EOT = 49407;

describe('text cleaning (OpenAI basic_clean + whitespace_clean)', () => {
  it('unescapes HTML as Python html.unescape does', () => {
    // Expected values are what Python 3's html.unescape returns for each input.
    const cases: Array<[string, string]> = [
      ['&amp;', '&'], ['&ampx', '&x'], ['&#39;', "'"], ['&#x27;', "'"], ['&#128;', '\u20ac'], ['&#0;', '\ufffd'],
      ['&#1;', ''], ['&unknown;', '&unknown;'], ['&eacute', '\u00e9'], ['&eacutex;', '\u00e9x;'],
      ['&#xD800;', '\ufffd'], ['&#99999999;', '\ufffd'], ['&hellip;', '\u2026'], ['&hellip', '&hellip'],
      ['&;', '&;'], ['& amp;', '& amp;'], ['&amp;amp;', '&amp;'],
    ];
    for (const [input, expected] of cases) expect(htmlUnescape(input), input).toBe(expected);
  });

  it('unescapes twice, normalises to NFC (ftfy), strips and collapses whitespace', () => {
    expect(basicClean('  &amp;amp; ')).toBe('&');
    expect(basicClean('e\u0301te\u0301')).toBe('\u00e9t\u00e9');
    expect(basicClean('\x1cx\x1f')).toBe('x'); // Python's strip() also removes \x1c-\x1f
    expect(whitespaceClean('a \t\n b\u00a0\u3000c  ')).toBe('a b c');
    expect(cleanText('  A   PHOTO\tOF\n')).toBe('a photo of');
  });
});

describe.skipIf(!HAVE_FILES)('CLIP tokenizer ids (needs shared/data/clip-tokenizer)', () => {
  let fromJson: ClipTokenizer;
  let fromGzip: ClipTokenizer;
  let vocabJson: Record<string, number>;

  beforeAll(async () => {
    fromJson = await loadTokenizer(join(TOKENIZER_DIR, 'tokenizer.json'));
    fromGzip = await loadTokenizer(join(TOKENIZER_DIR, 'bpe_simple_vocab_16e6.txt.gz'));
    vocabJson = JSON.parse(readFileSync(join(TOKENIZER_DIR, 'vocab.json'), 'utf8')) as Record<string, number>;
  });

  /** Checks pieces, checks that each piece's id is what vocab.json says, and returns the ids. */
  function expectPieces(text: string, pieces: string[], ids: number[]): void {
    expect(fromJson.pieces(text), text).toEqual(pieces);
    expect(pieces.map((p) => vocabJson[p]), `vocab.json ids of ${text}`).toEqual(ids);
    expect(fromJson.encode(text)).toEqual(ids);
    expect(fromGzip.encode(text)).toEqual(ids);
  }

  it('encodes plain English words as whole-word tokens', () => {
    expectPieces('a photo of a dog.', ['a</w>', 'photo</w>', 'of</w>', 'a</w>', 'dog</w>', '.</w>'], [320, 1125, 539, 320, 1929, 269]);
    const row = fromJson.tokenize(['a photo of a dog.']);
    expect(row.length).toBe(77);
    expect(Array.from(row.subarray(0, 9))).toEqual([SOT, 320, 1125, 539, 320, 1929, 269, EOT, 0]);
    expect(row.subarray(8).every((v) => v === 0)).toBe(true);
  });

  it('lower-cases and collapses whitespace before splitting', () => {
    expect(fromJson.encode('A   PHOTO\t\nOF')).toEqual([320, 1125, 539]);
    expectPieces('HELLO, world!!', ['hello</w>', ',</w>', 'world</w>', '!!</w>'], [3306, 267, 1002, 748]);
  });

  it("splits contractions and digits as CLIP's regex does", () => {
    expectPieces("it's", ['it</w>', "'s</w>"], [585, 568]);
    // Each digit is its own word; punctuation runs stay together.
    expectPieces('123', ['1</w>', '2</w>', '3</w>'], [272, 273, 274]);
    expectPieces('3.14', ['3</w>', '.</w>', '1</w>', '4</w>'], [274, 269, 272, 275]);
    expectPieces("rock'n'roll", ['rock</w>', "'</w>", 'n</w>', "'</w>", 'roll</w>'], [2172, 262, 333, 262, 3341]);
  });

  it('encodes non-ASCII text through UTF-8 bytes mapped by bytes_to_unicode', () => {
    // é = C3 A9: both bytes are printable Latin-1, so they map to "Ã©".
    expectPieces('café', ['caf\u00c3\u00a9</w>'], [15304]);
    // ï = C3 AF → "Ã¯"; "na" and "ve</w>" are merges of their own.
    expectPieces('naïve', ['na', '\u00c3\u00af', 've</w>'], [1097, 35689, 563]);
    // 日 = E6 97 A5, 本 = E6 9C AC. 0x97 and 0x9C are not printable: non-printable bytes map to
    // U+0100 + their index among non-printable bytes (0x00-0x20 are 0-32, 0x7F is 33, 0x80 is 34),
    // so 0x97 → U+0139 'Ĺ' and 0x9C → U+013E 'ľ'.
    expectPieces('日本', ['\u00e6\u0139\u00a5', '\u00e6\u013e', '\u00ac</w>'], [39121, 19277, 361]);
    // 🐶 = F0 9F 90 B6 → ð, 0x9F → U+0141 'Ł', 0x90 → U+0132 'Ĳ', ¶: one token.
    expectPieces('🐶', ['\u00f0\u0141\u0132\u00b6</w>'], [10631]);
  });

  it('unescapes HTML entities before tokenising', () => {
    expectPieces('&lt;b&gt;', ['<</w>', 'b</w>', '></w>'], [283, 321, 285]);
  });

  it('keeps special tokens written in the text', () => {
    expect(fromJson.encode('<|startoftext|>hi<|endoftext|>')).toEqual([SOT, vocabJson['hi</w>'], EOT]);
  });

  it('truncates to the context with the end token last, or refuses when asked not to', () => {
    const long = 'a '.repeat(100);
    const ids = fromJson.tokenize([long, 'dog']);
    expect(ids.length).toBe(2 * 77);
    expect(ids[0]).toBe(SOT);
    expect(Array.from(ids.subarray(1, 76)).every((v) => v === 320)).toBe(true);
    expect(ids[76]).toBe(EOT);
    expect(Array.from(ids.subarray(77, 80))).toEqual([SOT, 1929, EOT]);
    const reported: Array<[number, number]> = [];
    fromJson.tokenize(['dog', long, 'cat', long + long], { onTruncated: (i, n) => reported.push([i, n]) });
    expect(reported).toEqual([[1, 102], [3, 202]]);
    expect(() => fromJson.tokenize(['dog', long], { truncate: false })).toThrow(TokenizerError);
    expect(() => fromJson.tokenize([long], { truncate: false })).toThrow(/"a a a.*102 tokens.*77/);
    expect(Array.from(fromJson.tokenize(['a photo of'], { contextLength: 4 }))).toEqual([SOT, 320, 1125, EOT]);
  });

  it('builds the same vocabulary from tokenizer.json and from the OpenAI gzip', () => {
    expect(fromGzip.vocabSize).toBe(49408);
    expect(fromJson.vocabSize).toBe(49408);
    const differing = [...fromJson.encoder].filter(([token, id]) => fromGzip.encoder.get(token) !== id);
    expect(differing).toEqual([]);
    expect(fromGzip.encoder.get('!')).toBe(0);
    expect(fromGzip.encoder.get('!</w>')).toBe(256);
  });

  it('gives identical ids from every loader on a few hundred varied strings', async () => {
    const fromPair = await loadTokenizer(join(TOKENIZER_DIR, 'vocab.json'));
    const words = [
      'the', 'cat', 'SAT', 'photo', 'of', 'a', 'dog', 'café', 'naïve', '日本', '東京', '🐶', '🚀', '123', '4', "it's",
      "I'M", "we'll", 'x-ray', 'e-mail', "don't", 'sea_lion', "O'Neil", '&amp;', '&quot;', '&nbsp;', 'Ölçü', 'ñandú',
      'Ωμέγα', 'ß', 'ﬁ', '①', '½', 'Ⅻ', '٣', '👍🏽', '…', '—', '“quoted”', '\t', '  ', '\n', 'ÆØÅ', 'İstanbul',
      'supercalifragilisticexpialidocious', '$5.99', '(50%)', '#tag', '@user', '....', '!?',
    ];
    const rng = createRng(7, 'tokenizer-strings');
    const texts: string[] = [];
    for (let i = 0; i < 300; i++) {
      const n = 1 + rng.int(12);
      texts.push(Array.from({ length: n }, () => words[rng.int(words.length)]).join(rng.int(3) === 0 ? '' : ' '));
    }
    const a = fromJson.tokenize(texts);
    expect(Array.from(fromGzip.tokenize(texts))).toEqual(Array.from(a));
    expect(Array.from(fromPair.tokenize(texts))).toEqual(Array.from(a));
    // Every row starts with the start token and contains exactly one end token.
    for (let i = 0; i < texts.length; i++) {
      const r = a.subarray(i * 77, (i + 1) * 77);
      expect(r[0]).toBe(SOT);
      expect(r.filter((v) => v === EOT).length).toBe(1);
    }
  });

  it('rejects malformed tokenizer files with the file named', () => {
    expect(() => tokenizerFromHuggingFaceJson('{"model":{"type":"WordPiece"}}', 'x/tokenizer.json')).toThrow(/x\/tokenizer\.json/);
    expect(() => tokenizerFromHuggingFaceJson('not json', 'y.json')).toThrow(/y\.json is not valid JSON/);
    expect(() => tokenizerFromOpenAIBpe(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow(
      /merge lines/,
    );
  });
});

describe('vocabularyFromMerges', () => {
  it('orders bytes, bytes with </w>, merges, then the two special tokens', () => {
    const vocab = vocabularyFromMerges([['h', 'i'], ['hi', 'i</w>']]);
    expect(vocab.size).toBe(512 + 2 + 2);
    expect(vocab.get('!')).toBe(0);
    expect(vocab.get('~')).toBe(93);
    expect(vocab.get('\u0100')).toBe(188); // byte 0x00, first non-printable byte
    expect(vocab.get('!</w>')).toBe(256);
    expect(vocab.get('hi')).toBe(512);
    expect(vocab.get('hii</w>')).toBe(513);
    expect(vocab.get('<|startoftext|>')).toBe(514);
    const tok = new ClipTokenizer(vocab, [['h', 'i'], ['hi', 'i</w>']]);
    expect(tok.encode('hii hi')).toEqual([513, vocab.get('h'), vocab.get('i</w>')]);
  });
});

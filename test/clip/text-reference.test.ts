// CLIP's text cleaning and ids against OpenAI's tokenizer with ftfy, on the edge cases made by
// scripts/reference/clip_text_fixtures.py (committed in test/fixtures/clip-text; no Python needed).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanText } from '../../src/clip/text-clean.js';
import { fixText, isBad } from '../../src/clip/text-fix.js';
import { loadTokenizer, type ClipTokenizer } from '../../src/clip/tokenizer.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const TOKENIZER_DIR = resolve(HERE, '../../../shared/data/clip-tokenizer');
const BPE = join(TOKENIZER_DIR, 'bpe_simple_vocab_16e6.txt.gz');

interface TextCase {
  text: string;
  clean: string;
  ids: number[];
}
const { cases } = JSON.parse(readFileSync(resolve(HERE, '../fixtures/clip-text/cases.json'), 'utf8')) as { cases: TextCase[] };

describe("text cleaning as OpenAI's basic_clean with ftfy", () => {
  it(`cleans ${cases.length} edge cases exactly as the reference`, () => {
    const wrong = cases.filter((c) => cleanText(c.text) !== c.clean).map((c) => ({ text: c.text, expected: c.clean, got: cleanText(c.text) }));
    expect(wrong).toEqual([]);
  });

  it('repairs the examples of the issue', () => {
    expect(fixText('child\u2019s \ufb01sh \uff26\uff35\uff2c\uff2c caf\u00c3\u00a9 \ufeffBOM next\x85line')).toBe("child's fish FULL caf\u00e9 BOM next\u2026line"); // \x85 is a C1 control: Windows-1252's …
    expect(cleanText('&alpha; &notin; &amp;amp; a\u0007b')).toBe('\u03b1 \u2209 & ab');
    expect(cleanText('a < b &amp;amp; c')).toBe('a < b & c'); // ftfy leaves HTML alone after a "<"; html.unescape twice does it
    expect(isBad('caf\u00c3\u00a9')).toBe(true);
    expect(isBad('caf\u00e9')).toBe(false);
  });
});

describe.skipIf(!existsSync(BPE))('CLIP ids against clip.tokenize (needs shared/data/clip-tokenizer)', () => {
  let tokenizer: ClipTokenizer;
  beforeAll(async () => {
    tokenizer = await loadTokenizer(BPE);
  });

  it(`gives the reference ids on ${cases.length} edge cases`, () => {
    const wrong = cases.filter((c) => tokenizer.encode(c.text).join(',') !== c.ids.join(',')).map((c) => c.text);
    expect(wrong).toEqual([]);
  });

  it("tokenises child’s with the 's token, as CLIP", () => {
    expect(tokenizer.encode('child\u2019s')).toEqual(tokenizer.encode("child's"));
    expect(tokenizer.encode("child's")).toContain(568);
  });
});

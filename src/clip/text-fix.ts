// A TypeScript port of ftfy's `fix_text` with its default settings (ftfy 6.3, Apache-2.0,
// (c) Robyn Speer), the first step of OpenAI CLIP's `basic_clean`. Per line (split after "\n"):
// repeat until nothing changes: ftfy's HTML unescaping (only while no "<" has been seen), mojibake
// repair (re-encode in one of ten single-byte encodings and decode as UTF-8, guided by ftfy's
// badness heuristic; embedded UTF-8 mojibake; C1 controls as Windows-1252), Latin ligatures
// (ﬁ → fi), full/half-width forms (ＡＢＣ → ABC), curly quotes, line breaks (\r, \u2028, \u2029,
// \x85), lone surrogates, ANSI escapes, control characters and BOMs removed, then NFC.
// The character data is generated from ftfy (./ftfy-tables.ts); the reference ids for CLIP's
// tokenizer on a few hundred edge cases are in test/fixtures/clip-text.
import { decodeHTML, DecodingMode } from 'entities';
import { htmlUnescape } from './html-unescape.js';
import { CHARMAPS, MOJIBAKE_CATEGORIES as M, UPPER_ENTITIES, UTF8_CLUES as U } from './ftfy-tables.js';

// ---- the badness heuristic (ftfy/badness.py) ----

const PY_SPACE = '\\p{White_Space}\\x1c-\\x1f';
const PY_WORD = '\\p{L}\\p{N}_'; // Python's \w: str.isalnum() or '_'

const BADNESS_ALTERNATIVES = [
  `[${M.c1}]`,
  `[${M.bad}${M.lower_accented}${M.upper_accented}${M.box}${M.start_punctuation}${M.end_punctuation}${M.currency}${M.numeric}${M.law}][${M.bad}]`,
  `[a-zA-Z][${M.lower_common}${M.upper_common}][${M.bad}]`,
  `[${M.bad}][${M.lower_accented}${M.upper_accented}${M.box}${M.start_punctuation}${M.end_punctuation}${M.currency}${M.numeric}${M.law}]`,
  `[${M.lower_accented}${M.lower_common}${M.box}${M.end_punctuation}${M.currency}${M.numeric}][${M.upper_accented}]`,
  `[${M.box}${M.end_punctuation}${M.currency}${M.numeric}][${M.lower_accented}]`,
  `[${M.lower_accented}${M.box}${M.end_punctuation}][${M.currency}]`,
  `[${PY_SPACE}][${M.upper_accented}][${M.currency}]`,
  `[${M.upper_accented}${M.box}][${M.numeric}${M.law}]`,
  `[${M.lower_accented}${M.upper_accented}${M.box}${M.currency}${M.end_punctuation}][${M.start_punctuation}][${M.numeric}]`,
  `[${M.lower_accented}${M.upper_accented}${M.currency}${M.numeric}${M.box}${M.law}][${M.end_punctuation}][${M.start_punctuation}]`,
  `[${M.currency}${M.numeric}${M.box}][${M.start_punctuation}]`,
  `[a-z][${M.upper_accented}][${M.start_punctuation}${M.currency}]`,
  `[${M.box}][${M.kaomoji}]`,
  `[${M.lower_accented}${M.upper_accented}${M.currency}${M.numeric}${M.start_punctuation}${M.end_punctuation}${M.law}][${M.box}]`,
  `[${M.box}][${M.end_punctuation}]`,
  `[${M.lower_accented}${M.upper_accented}][${M.start_punctuation}${M.end_punctuation}][${PY_WORD}]`,
  '[\u0152\u0153][^A-Za-z]',
  `[${M.upper_accented}]\u00b0`,
  `[\u00c2\u00c3\u00ce\u00d0][\u20ac\u0153\u0160\u0161\u00a2\u00a3\u0178\u017e\u00a0\u00ad\u00ae\u00a9\u00b0\u00b7\u00bb${M.start_punctuation}${M.end_punctuation}\u2013\u2014\u00b4]`,
  '\u00d7[\u00b2\u00b3]',
  `[\u00d8\u00d9][${M.common}${M.currency}${M.bad}${M.numeric}${M.start_punctuation}\u0178\u0160\u00ae\u00b0\u00b5\u00bb][\u00d8\u00d9][${M.common}${M.currency}${M.bad}${M.numeric}${M.start_punctuation}\u0178\u0160\u00ae\u00b0\u00b5\u00bb]`,
  '\u00e0[\u00b2\u00b5\u00b9\u00bc\u00bd\u00be]',
  '\u221a[\u00b1\u2202\u2020\u2260\u00ae\u2122\u00b4\u2264\u2265\u00a5\u00b5\u00f8]',
  '\u2248[\u00b0\u00a2]',
  '\u201a\u00c4[\u00ec\u00ee\u00ef\u00f2\u00f4\u00fa\u00f9\u00fb\u2020\u00b0\u00a2\u03c0]',
  '\u201a[\u00e2\u00f3][\u00e0\u00e4\u00b0\u00ea]',
  '\u0432\u0402',
  `[\u0412\u0413\u0420\u0421][${M.c1}${M.bad}${M.start_punctuation}${M.end_punctuation}${M.currency}\u00b0\u00b5][\u0412\u0413\u0420\u0421]`,
  '\u0413\u045e\u0412\u0402\u0412.[A-Za-z ]',
  '\u00c3[\u00a0\u00a1]',
  `[a-z][${PY_SPACE}]?[\u00c3\u00c2] `,
  '^[\u00c3\u00c2] ',
  `[a-z.,?!${M.end_punctuation}]\u00c2[ ${M.start_punctuation}${M.end_punctuation}]`,
  '\u03b2\u20ac[\u2122\u00a0\u0386\u00ad\u00ae\u00b0]',
  `[\u0392\u0393\u039e\u039f][${M.c1}${M.bad}${M.start_punctuation}${M.end_punctuation}${M.currency}\u00b0][\u0392\u0393\u039e\u039f]`,
  '\u0101\u20ac',
];
const BADNESS_RE = new RegExp(BADNESS_ALTERNATIVES.join('|'), 'u');

/** ftfy's `is_bad`: whether the text contains a sequence that looks like mojibake. */
export function isBad(text: string): boolean {
  return BADNESS_RE.test(text);
}

// ---- single-byte encodings (ftfy/chardata.py, the sloppy codecs) ----

interface Charmap {
  name: string;
  /** Whether the text can be encoded: ASCII (but 0x1A) plus the 129 mapped characters. */
  possible: RegExp;
  encode: Map<string, number>;
}

const escapeClass = (s: string): string => s.replace(/[\\\]^-]/g, (c) => `\\${c}`);

const CHARMAP_LIST: Charmap[] = CHARMAPS.map(([name, chars]) => {
  const list = [...chars];
  const encode = new Map<string, number>();
  list.forEach((ch, i) => {
    const byte = i < 128 ? 0x80 + i : 0x1a;
    if (!encode.has(ch)) encode.set(ch, byte);
  });
  return { name, possible: new RegExp(`^[\\x00-\\x19\\x1b-\\x7f${escapeClass(list.join(''))}]*$`, 'u'), encode };
});
const DECODE_1252 = [...CHARMAPS.find(([n]) => n === 'sloppy-windows-1252')![1]];

/** Encodes text known to be possible in `map` as bytes (as a binary string, one char per byte). */
function encodeBinary(text: string, map: Charmap): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    out += cp < 0x80 ? ch : String.fromCharCode(map.encode.get(ch)!);
  }
  return out;
}

const ASCII_ONLY = /^[\x00-\x7f]*$/;

// ---- byte-level repairs (ftfy/fixes.py), on binary strings ----

const ALTERED_UTF8_RE =
  /[\xc2\xc3\xc5\xce\xd0\xd9] |[\xe2\xe3] [\x80-\x84\x86-\x9f\xa1-\xbf]|[\xe0-\xe3][\x80-\x84\x86-\x9f\xa1-\xbf] |\xf0 [\x80-\xbf][\x80-\xbf]|\xf0[\x80-\xbf] [\x80-\xbf]|\xf0[\x80-\xbf][\x80-\xbf] /g;
const A_GRAVE_WORD_RE = /\xc3 (?! |quele|quela|quilo|s )/g;
const LOSSY_UTF8_RE = new RegExp(
  [
    '[\\xc2-\\xdf][\\x1a]',
    '[\\xc2-\\xc3][?]',
    '\\xed[\\xa0-\\xaf][\\x1a?]\\xed[\\xb0-\\xbf][\\x1a?\\x80-\\xbf]',
    '\\xed[\\xa0-\\xaf][\\x1a?\\x80-\\xbf]\\xed[\\xb0-\\xbf][\\x1a?]',
    '[\\xe0-\\xef][\\x1a?][\\x1a\\x80-\\xbf]',
    '[\\xe0-\\xef][\\x1a\\x80-\\xbf][\\x1a?]',
    '[\\xf0-\\xf4][\\x1a?][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf]',
    '[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a?][\\x1a\\x80-\\xbf]',
    '[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf][\\x1a?]',
    '\\x1a',
  ].join('|'),
  'g',
);
const REPLACEMENT_UTF8 = '\xef\xbf\xbd';

function restoreByteA0(bytes: string): string {
  return bytes.replace(A_GRAVE_WORD_RE, '\xc3\xa0 ').replace(ALTERED_UTF8_RE, (m) => m.replaceAll(' ', '\xa0'));
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 decoding of a binary string; undefined where Python's decoder would raise. */
function decodeUtf8(bytes: string, variants: boolean): string | undefined {
  let b = bytes;
  if (variants) {
    // ftfy's utf-8-variants: CESU-8 surrogate pairs and Java's C0 80 for NUL.
    b = b
      .replace(/\xed([\xa0-\xaf])([\x80-\xbf])\xed([\xb0-\xbf])([\x80-\xbf])/g, (_m, a: string, bb: string, c: string, d: string) => {
        const hi = 0xd000 | ((a.charCodeAt(0) & 0x3f) << 6) | (bb.charCodeAt(0) & 0x3f);
        const lo = 0xd000 | ((c.charCodeAt(0) & 0x3f) << 6) | (d.charCodeAt(0) & 0x3f);
        return Buffer.from(String.fromCharCode(hi, lo), 'utf8').toString('latin1');
      })
      .replace(/\xc0\x80/g, '\x00');
  }
  try {
    return UTF8.decode(Buffer.from(b, 'latin1'));
  } catch {
    return undefined;
  }
}

// ---- embedded UTF-8 mojibake ----

const UTF8_DETECTOR_RE = new RegExp(
  `(?<![${U.utf8_continuation_strict}])(?:[${U.utf8_first_of_2}][${U.utf8_continuation}]|[${U.utf8_first_of_3}][${U.utf8_continuation}]{2}|[${U.utf8_first_of_4}][${U.utf8_continuation}]{3})+`,
  'gu',
);

function decodeInconsistentUtf8(text: string): string {
  UTF8_DETECTOR_RE.lastIndex = 0;
  return text.replace(UTF8_DETECTOR_RE, (sub) => (sub.length < text.length && isBad(sub) ? fixEncoding(sub) : sub));
}

const C1_RE = /[\x80-\x9f]/u;
const C1_RE_G = /[\x80-\x9f]+/gu;

function fixC1Controls(text: string): string {
  return text.replace(C1_RE_G, (m) => [...m].map((ch) => DECODE_1252[ch.charCodeAt(0) - 0x80]).join(''));
}

/** One step of ftfy's `fix_encoding`. */
function fixEncodingStep(text: string): string {
  if (text.length === 0 || ASCII_ONLY.test(text) || !isBad(text)) return text;
  for (const map of CHARMAP_LIST) {
    if (!map.possible.test(text)) continue;
    let bytes = encodeBinary(text, map);
    if (map.name !== 'macroman' && new RegExp(ALTERED_UTF8_RE.source).test(bytes)) bytes = restoreByteA0(bytes);
    if (map.name.startsWith('sloppy')) bytes = bytes.replace(LOSSY_UTF8_RE, REPLACEMENT_UTF8);
    const variants = bytes.includes('\xed') || bytes.includes('\xc0');
    const fixed = decodeUtf8(bytes, variants);
    if (fixed !== undefined) return fixed;
  }
  UTF8_DETECTOR_RE.lastIndex = 0;
  if (UTF8_DETECTOR_RE.test(text)) {
    const fixed = decodeInconsistentUtf8(text);
    if (fixed !== text) return fixed;
  }
  // ftfy then tries latin-1 → windows-1252 (only C1 characters change, and it fails on the five
  // bytes Windows-1252 leaves undefined), then fixes C1 controls as sloppy Windows-1252: the same result.
  return C1_RE.test(text) ? fixC1Controls(text) : text;
}

/** ftfy's `fix_encoding`: repeats the step until the text stops changing. */
export function fixEncoding(text: string): string {
  let current = text;
  for (;;) {
    const next = fixEncodingStep(current);
    if (next === current) return current;
    current = next;
  }
}

// ---- the other fixers ----

const HTML_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;

/** ftfy's `unescape_html`: complete entities only ("&name;", "&#n;"), plus upper-cased names. */
function ftfyUnescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(HTML_ENTITY_RE, (entity) => {
    if (Object.hasOwn(UPPER_ENTITIES, entity)) return UPPER_ENTITIES[entity];
    if (entity.startsWith('&#')) {
      const decoded = htmlUnescape(entity);
      return decoded.includes(';') ? entity : decoded;
    }
    const decoded = decodeHTML(entity, DecodingMode.Strict);
    // A whole named entity: strict decoding leaves no part of the name behind.
    return decoded !== entity && !decoded.includes(';') ? decoded : entity;
  });
}

const LIGATURES: Record<string, string> = {
  '\u0132': 'IJ', '\u0133': 'ij', '\u0149': '\u02bcn', '\u01f1': 'DZ', '\u01f2': 'Dz', '\u01f3': 'dz',
  '\u01c4': 'D\u017d', '\u01c5': 'D\u017e', '\u01c6': 'd\u017e', '\u01c7': 'LJ', '\u01c8': 'Lj', '\u01c9': 'lj',
  '\u01ca': 'NJ', '\u01cb': 'Nj', '\u01cc': 'nj', '\ufb00': 'ff', '\ufb01': 'fi', '\ufb02': 'fl', '\ufb03': 'ffi',
  '\ufb04': 'ffl', '\ufb05': '\u017ft', '\ufb06': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'gu');

const WIDTH_RE = /[\u3000\uff01-\uffef]/gu;
function fixCharacterWidth(text: string): string {
  return text.replace(WIDTH_RE, (ch) => (ch === '\u3000' ? ' ' : ch.normalize('NFKC')));
}

const ANSI_RE = /\x1b\[((?:\d|;)*)([a-zA-Z])/g;
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/gu;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function fixOnce(text: string, unescape: boolean): string {
  let t = unescape ? ftfyUnescapeHtml(text) : text;
  t = fixEncoding(t);
  if (C1_RE.test(t)) t = fixC1Controls(t);
  t = t.replace(LIGATURE_RE, (ch) => LIGATURES[ch]);
  t = fixCharacterWidth(t);
  t = t.replace(/[\u201c-\u201f]/g, '"').replace(/[\u02bc\u2018-\u201b]/g, "'");
  t = t.replace(/\r\n/g, '\n').replace(/[\r\u2028\u2029\x85]/g, '\n');
  t = t.replace(LONE_SURROGATE_RE, '\ufffd');
  t = t.replace(ANSI_RE, '');
  t = t.replace(CONTROL_RE, '');
  return t.normalize('NFC');
}

// Printable ASCII, tabs and newlines without "&" or an escape: nothing for ftfy to change.
const UNTOUCHED = /^[\x20-\x25\x27-\x7e\t\n]*$/;

/** ftfy's `fix_text` with default settings. */
export function fixText(text: string): string {
  if (UNTOUCHED.test(text)) return text;
  let unescape = true; // 'auto': off from the first line with a "<" on
  let out = '';
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos) + 1;
    if (end === 0) end = text.length;
    let segment = text.slice(pos, end);
    if (unescape && segment.includes('<')) unescape = false;
    for (;;) {
      const next = fixOnce(segment, unescape);
      if (next === segment) break;
      segment = next;
    }
    out += segment;
    pos = end;
  }
  return out;
}

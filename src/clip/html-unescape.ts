// Python's `html.unescape`: numeric references as Python maps them (Windows-1252 for 0x80-0x9F,
// U+FFFD for surrogates and out-of-range values, nothing for control and non-characters), named
// ones from the full HTML5 table of the `entities` package, with the longest-prefix rule for names
// without a semicolon.
import { decodeHTML, DecodingMode } from 'entities';

// Numeric references that browsers (and Python) map through Windows-1252 or to U+FFFD.
const INVALID_CHARREFS: Record<number, string> = {
  0x00: '\ufffd', 0x0d: '\r', 0x80: '\u20ac', 0x81: '\x81', 0x82: '\u201a', 0x83: '\u0192', 0x84: '\u201e',
  0x85: '\u2026', 0x86: '\u2020', 0x87: '\u2021', 0x88: '\u02c6', 0x89: '\u2030', 0x8a: '\u0160', 0x8b: '\u2039',
  0x8c: '\u0152', 0x8d: '\x8d', 0x8e: '\u017d', 0x8f: '\x8f', 0x90: '\x90', 0x91: '\u2018', 0x92: '\u2019',
  0x93: '\u201c', 0x94: '\u201d', 0x95: '\u2022', 0x96: '\u2013', 0x97: '\u2014', 0x98: '\u02dc', 0x99: '\u2122',
  0x9a: '\u0161', 0x9b: '\u203a', 0x9c: '\u0153', 0x9d: '\x9d', 0x9e: '\u017e', 0x9f: '\u0178',
};

/** Code points that Python's html.unescape drops entirely. */
function isDroppedCodePoint(n: number): boolean {
  return (
    (n >= 0x1 && n <= 0x8) || n === 0xb || (n >= 0xe && n <= 0x1f) || (n >= 0x7f && n <= 0x9f) ||
    (n >= 0xfdd0 && n <= 0xfdef) || (n & 0xfffe) === 0xfffe
  );
}

const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

function replaceCharref(ref: string): string {
  if (ref[0] === '#') {
    const hex = ref[1] === 'x' || ref[1] === 'X';
    const digits = ref.slice(hex ? 2 : 1).replace(/;$/, '');
    const n = hex ? parseInt(digits, 16) : parseInt(digits, 10);
    if (n in INVALID_CHARREFS) return INVALID_CHARREFS[n];
    if ((n >= 0xd800 && n <= 0xdfff) || n > 0x10ffff) return '\ufffd';
    if (isDroppedCodePoint(n)) return '';
    return String.fromCodePoint(n);
  }
  // Named: the whole name when it is an entity, else the longest legacy (semicolon-free) entity
  // prefix, as Python and the HTML5 tokenizer (the `entities` package's legacy mode) both do.
  return decodeHTML(`&${ref}`, DecodingMode.Legacy);
}

/** Python's `html.unescape`. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARREF, (_whole, ref: string) => replaceCharref(ref));
}


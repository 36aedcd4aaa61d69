// Text cleaning in front of CLIP's BPE, following OpenAI's `basic_clean` + `whitespace_clean`.
// ftfy is replaced by NFC normalisation (the part of `ftfy.fix_text` that matters for clean text),
// and Python's `html.unescape` is reproduced for numeric references and a table of common named
// entities (all the legacy no-semicolon ones plus frequent typographic ones).

// Python's str.isspace() set (what `.strip()` removes): Unicode White_Space plus \x1c-\x1f.
const PY_SPACE = '\\p{White_Space}\\x1c-\\x1f';
const STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'gu');
// The `regex` module's \s, which `whitespace_clean` collapses, is exactly White_Space.
const WHITESPACE_RUN = /\p{White_Space}+/gu;

// Latin-1 entities in code point order from U+00A0; HTML5 allows these without the semicolon.
const LATIN1_NAMES = (
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 ' +
  'acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml ' +
  'Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde ' +
  'Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ' +
  'ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide ' +
  'oslash ugrave uacute ucirc uuml yacute thorn yuml'
).split(' ');

/** Entities that HTML5 also recognises without a trailing semicolon. */
const LEGACY: Record<string, string> = {
  amp: '&', AMP: '&', lt: '<', LT: '<', gt: '>', GT: '>', quot: '"', QUOT: '"', COPY: '\u00a9', REG: '\u00ae',
  ...Object.fromEntries(LATIN1_NAMES.map((name, i) => [name, String.fromCodePoint(0xa0 + i)])),
};

/** Entities that need their semicolon. */
const WITH_SEMICOLON: Record<string, string> = {
  apos: "'", hellip: '\u2026', mdash: '\u2014', ndash: '\u2013', lsquo: '\u2018', rsquo: '\u2019',
  sbquo: '\u201a', ldquo: '\u201c', rdquo: '\u201d', bdquo: '\u201e', bull: '\u2022', trade: '\u2122',
  euro: '\u20ac', dagger: '\u2020', Dagger: '\u2021', permil: '\u2030', lsaquo: '\u2039', rsaquo: '\u203a',
  oelig: '\u0153', OElig: '\u0152', scaron: '\u0161', Scaron: '\u0160', Yuml: '\u0178', fnof: '\u0192',
  circ: '\u02c6', tilde: '\u02dc', ensp: '\u2002', emsp: '\u2003', thinsp: '\u2009', zwnj: '\u200c',
  zwj: '\u200d', lrm: '\u200e', rlm: '\u200f', larr: '\u2190', rarr: '\u2192', uarr: '\u2191', darr: '\u2193',
  harr: '\u2194', hearts: '\u2665', spades: '\u2660', clubs: '\u2663', diams: '\u2666', infin: '\u221e',
  ne: '\u2260', le: '\u2264', ge: '\u2265', minus: '\u2212', prime: '\u2032', Prime: '\u2033', star: '\u2606',
  check: '\u2713', cross: '\u2717', sol: '/', colon: ':', comma: ',', period: '.', excl: '!', quest: '?',
  num: '#', dollar: '$', percnt: '%', lpar: '(', rpar: ')', ast: '*', plus: '+', equals: '=', lowbar: '_',
  lsqb: '[', rsqb: ']', lcub: '{', rcub: '}', verbar: '|', bsol: '\\', grave: '`', Hat: '^', semi: ';',
  commat: '@', NewLine: '\n', Tab: '\t',
};

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
  if (ref.endsWith(';')) {
    const name = ref.slice(0, -1);
    if (Object.hasOwn(WITH_SEMICOLON, name)) return WITH_SEMICOLON[name];
    if (Object.hasOwn(LEGACY, name)) return LEGACY[name];
  } else if (Object.hasOwn(LEGACY, ref)) {
    return LEGACY[ref];
  }
  // Longest legacy entity that prefixes the name, as HTML5 (and Python) do: "&ampx" → "&x".
  for (let x = ref.length - 1; x > 1; x--) {
    const prefix = ref.slice(0, x);
    if (Object.hasOwn(LEGACY, prefix)) return LEGACY[prefix] + ref.slice(x);
  }
  return `&${ref}`;
}

/** Python's `html.unescape` for numeric references and the entities in the tables above. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARREF, (_whole, ref: string) => replaceCharref(ref));
}

/** OpenAI's `basic_clean` with NFC in place of ftfy: normalise, unescape twice, strip. */
export function basicClean(text: string): string {
  return htmlUnescape(htmlUnescape(text.normalize('NFC'))).replace(STRIP, '');
}

/** OpenAI's `whitespace_clean`: runs of whitespace become one space; then strip. */
export function whitespaceClean(text: string): string {
  return text.replace(WHITESPACE_RUN, ' ').replace(STRIP, '');
}

/** The full normalisation CLIP applies before splitting into words. */
export function cleanText(text: string): string {
  return whitespaceClean(basicClean(text)).toLowerCase();
}

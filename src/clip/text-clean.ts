// Text cleaning in front of CLIP's BPE, as OpenAI's `basic_clean` + `whitespace_clean`:
// ftfy.fix_text (ported in ./text-fix.ts), Python's `html.unescape` twice (numeric references as
// Python handles them, named ones from the full HTML5 table of the `entities` package, with the
// same longest-prefix rule for names without a semicolon), strip, collapse whitespace, lowercase.
import { htmlUnescape } from './html-unescape.js';
import { fixText } from './text-fix.js';

export { htmlUnescape };

// Python's str.isspace() set (what `.strip()` removes): Unicode White_Space plus \x1c-\x1f.
const PY_SPACE = '\\p{White_Space}\\x1c-\\x1f';
const STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'gu');
// The `regex` module's \s, which `whitespace_clean` collapses, is exactly White_Space.
const WHITESPACE_RUN = /\p{White_Space}+/gu;

/** OpenAI's `basic_clean`: ftfy.fix_text, html.unescape twice, strip. */
export function basicClean(text: string): string {
  return htmlUnescape(htmlUnescape(fixText(text))).replace(STRIP, '');
}

/** OpenAI's `whitespace_clean`: runs of whitespace become one space; then strip. */
export function whitespaceClean(text: string): string {
  return text.replace(WHITESPACE_RUN, ' ').replace(STRIP, '');
}

/** The full normalisation CLIP applies before splitting into words. */
export function cleanText(text: string): string {
  return whitespaceClean(basicClean(text)).toLowerCase();
}

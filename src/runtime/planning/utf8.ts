// Decoding a pipeline file: UTF-8 or a located error, never bytes silently replaced by U+FFFD
// (which would change node names and values). Kept apart from source.ts so that reading a pipeline
// whose plan is memoised does not load the YAML parser.
import type { Diagnostic } from '../errors.js';

const strict = new TextDecoder('utf-8', { fatal: true });
const valid = (bytes: Uint8Array): boolean => {
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
};

/** The text of `bytes`, or a diagnostic naming the line and column of the first byte that is not UTF-8. */
export function decodeUtf8(file: string, bytes: Uint8Array): { text: string } | { diagnostic: Diagnostic } {
  try {
    return { text: strict.decode(bytes) };
  } catch {
    // find it below
  }
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    const slice = bytes.subarray(start, i);
    if (!valid(slice)) {
      // The bad byte follows the longest prefix that decodes (a prefix cut inside a character does not).
      let col = 0;
      for (let k = 1; k <= slice.length; k++) if (valid(slice.subarray(0, k))) col = k;
      const byte = slice[col] ?? 0;
      return { diagnostic: { file, line, column: col + 1, field: '', message: `invalid UTF-8 (byte 0x${byte.toString(16).padStart(2, '0')}): a pipeline must be UTF-8 text` } };
    }
    line++;
    start = i + 1;
  }
  return { diagnostic: { file, line: 1, column: 1, field: '', message: 'invalid UTF-8: a pipeline must be UTF-8 text' } };
}

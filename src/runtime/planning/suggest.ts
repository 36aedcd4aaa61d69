// "did you mean …?" for a mistyped name: the nearest valid one by edit distance, when it is close.

/** Levenshtein distance (insertions, deletions, substitutions; a transposition counts as one). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest of `candidates` to `name`, if close enough to be a typo (case-insensitive). */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  if (best === undefined || best === name) return undefined;
  const limit = Math.max(1, Math.floor(Math.max(name.length, best.length) / 3));
  // A cut-short or over-long name ("evaluat", "relabels") is a typo too, when most of it is there.
  const [short, long] = lower.length < best.length ? [lower, best.toLowerCase()] : [best.toLowerCase(), lower];
  const prefix = long.startsWith(short) && short.length >= 3 && short.length >= 0.6 * long.length;
  return bestD <= limit || prefix ? best : undefined;
}

/** ": did you mean `x`?" or "". */
export function suggest(name: string, candidates: Iterable<string>): string {
  const c = closest(name, candidates);
  return c ? `: did you mean \`${c}\`?` : '';
}

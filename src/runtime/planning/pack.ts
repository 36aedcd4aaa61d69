// Compact JSON for the plan memo's columns of integers. A plan of 10^5 points has 4·10^5 instances,
// and its columns (instance numbers, the index of each one's params, inputs, points ...) mostly
// repeat a value or count up by one: as runs of equal steps they take a few numbers, not 10^5.

/** A column of integers as runs of equal steps: [step, count, step, count, ...], from 0. */
export type Packed = number[];

/** Packs integers (each a safe integer; anything else is a RangeError). */
export function pack(xs: readonly number[]): Packed {
  const out: Packed = [];
  let prev = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    if (!Number.isSafeInteger(x)) throw new RangeError(`pack: ${x} is not a safe integer`);
    const step = x - prev;
    prev = x;
    if (out.length > 0 && out[out.length - 2] === step) out[out.length - 1]++;
    else out.push(step, 1);
  }
  return out;
}

/** The integers `pack` packed; a malformed column is a RangeError (memo entries are checked, not trusted). */
export function unpack(packed: unknown): number[] {
  if (!Array.isArray(packed) || packed.length % 2 !== 0) throw new RangeError('unpack: not a packed column');
  let total = 0;
  for (let i = 0; i < packed.length; i += 2) {
    const step: unknown = packed[i];
    const count: unknown = packed[i + 1];
    if (!Number.isSafeInteger(step) || !Number.isSafeInteger(count) || (count as number) < 1) throw new RangeError('unpack: not a packed column');
    total += count as number;
  }
  if (total > 1e8) throw new RangeError('unpack: column too long');
  const out: number[] = [];
  out.length = total; // one allocation; every entry is written below
  let x = 0;
  let at = 0;
  for (let i = 0; i < packed.length; i += 2) {
    const step = packed[i] as number;
    const end = at + (packed[i + 1] as number);
    while (at < end) out[at++] = x += step;
  }
  return out;
}

/** Short rows of integers, column by column (the k-th entries of the rows that have one), with their lengths. */
export interface PackedRows {
  length: Packed;
  at: Packed[];
}

export function packRows(rows: readonly (readonly number[])[]): PackedRows {
  const width = rows.reduce((w, r) => Math.max(w, r.length), 0);
  const at: Packed[] = [];
  for (let k = 0; k < width; k++) {
    const column: number[] = [];
    for (const r of rows) if (r.length > k) column.push(r[k]);
    at.push(pack(column));
  }
  return { length: pack(rows.map((r) => r.length)), at };
}

export function unpackRows(packed: PackedRows): number[][] {
  if (packed === null || typeof packed !== 'object' || !Array.isArray(packed.at)) throw new RangeError('unpackRows: not packed rows');
  const lengths = unpack(packed.length);
  const columns = packed.at.map(unpack);
  const next = new Array<number>(columns.length).fill(0);
  return lengths.map((n) => {
    if (n > columns.length) throw new RangeError('unpackRows: a row longer than its columns');
    const row = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      if (next[k] >= columns[k].length) throw new RangeError('unpackRows: a column too short');
      row[k] = columns[k][next[k]++];
    }
    return row;
  });
}

/** Long rows of integers (lists of points), concatenated, with their lengths. */
export interface PackedLists {
  length: Packed;
  values: Packed;
}

export function packLists(lists: readonly (readonly number[])[]): PackedLists {
  const values: number[] = [];
  for (const l of lists) for (const v of l) values.push(v);
  return { length: pack(lists.map((l) => l.length)), values: pack(values) };
}

export function unpackLists(packed: PackedLists): number[][] {
  if (packed === null || typeof packed !== 'object') throw new RangeError('unpackLists: not packed lists');
  const lengths = unpack(packed.length);
  const values = unpack(packed.values);
  let at = 0;
  const lists = lengths.map((n) => values.slice(at, (at += n)));
  if (at !== values.length) throw new RangeError('unpackLists: lengths and values disagree');
  return lists;
}

// The plan memo's compact columns (pack.ts) and the planner's tuple numbering (tuple-table.ts):
// what they write they read back exactly, and what they were not given they refuse.
import { describe, expect, it } from 'vitest';
import { pack, packLists, packRows, unpack, unpackLists, unpackRows } from '../../src/runtime/planning/pack.js';
import { TupleTable } from '../../src/runtime/planning/tuple-table.js';

describe('pack', () => {
  it('round-trips columns of integers, and runs of equal steps take a few numbers', () => {
    const counting = Array.from({ length: 100_000 }, (_, i) => i);
    expect(pack(counting)).toEqual([0, 1, 1, 99_999]);
    expect(unpack(pack(counting))).toEqual(counting);
    const mixed = [5, 5, 5, -3, 7, 8, 9, 2 ** 40, 0, 0];
    expect(unpack(pack(mixed))).toEqual(mixed);
    expect(pack([])).toEqual([]);
    expect(unpack([])).toEqual([]);
  });

  it('refuses what is not a safe integer, and malformed columns', () => {
    expect(() => pack([1, 0.5])).toThrow(RangeError);
    expect(() => pack([Number.NaN])).toThrow(RangeError);
    expect(() => pack([2 ** 60])).toThrow(RangeError);
    expect(() => unpack([1])).toThrow(RangeError);
    expect(() => unpack([1, 0])).toThrow(RangeError);
    expect(() => unpack([1, 'x'])).toThrow(RangeError);
    expect(() => unpack({ 0: 1 })).toThrow(RangeError);
    expect(() => unpack([0, 1e9])).toThrow(/too long/);
  });

  it('round-trips rows of different lengths, column by column, and lists', () => {
    const rows = [[0, 1, 2], [0, 1, 3], [1], [], [2, 5, 6, 7]];
    expect(unpackRows(packRows(rows))).toEqual(rows);
    const lists = [[0, 1, 2, 3], [4], [], [5, 9]];
    expect(unpackLists(packLists(lists))).toEqual(lists);
    // A row longer than its columns, or lengths that disagree with the values, are refused.
    expect(() => unpackRows({ length: pack([4]), at: [pack([1])] })).toThrow(RangeError);
    expect(() => unpackRows({ length: pack([1, 1]), at: [pack([1])] })).toThrow(RangeError);
    expect(() => unpackLists({ length: pack([3]), values: pack([1, 2]) })).toThrow(RangeError);
  });
});

describe('TupleTable', () => {
  it('numbers distinct tuples 0, 1, 2 ... in order of first appearance, through its growth', () => {
    const t = new TupleTable(3, 4);
    const seen = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const tuple = [i % 7, (i * 31) % 101, i % 3];
      const key = tuple.join(',');
      if (!seen.has(key)) seen.set(key, seen.size);
      expect(t.intern(tuple)).toBe(seen.get(key));
    }
    expect(t.size).toBe(seen.size);
    expect(t.find([6, 100, 2])).toBe(seen.get('6,100,2') ?? -1);
    expect(t.find([1000, 0, 0])).toBe(-1);
  });

  it('has one tuple of width 0, and refuses what is not a small non-negative integer', () => {
    const empty = new TupleTable(0);
    expect(empty.intern([])).toBe(0);
    expect(empty.intern([])).toBe(0);
    expect(empty.size).toBe(1);
    const t = new TupleTable(1);
    expect(() => t.add([-1])).toThrow(RangeError);
    expect(() => t.add([0.5])).toThrow(RangeError);
    expect(() => t.add([2 ** 31])).toThrow(RangeError);
  });
});

import { describe, expect, it } from 'vitest';
import { combineMasks } from '../../src/methods/combine.js';

const a = Uint8Array.from([1, 1, 1, 0, 0]);
const b = Uint8Array.from([1, 1, 0, 1, 0]);
const c = Uint8Array.from([1, 0, 1, 1, 0]);

describe('combineMasks', () => {
  it('intersection, union and vote', () => {
    expect(Array.from(combineMasks([a, b, c], 'intersection'))).toEqual([1, 0, 0, 0, 0]);
    expect(Array.from(combineMasks([a, b, c], 'union'))).toEqual([1, 1, 1, 1, 0]);
    expect(Array.from(combineMasks([a, b, c], 'vote', 2))).toEqual([1, 1, 1, 1, 0]);
    expect(Array.from(combineMasks([a, b, c], 'vote', 3))).toEqual(Array.from(combineMasks([a, b, c], 'intersection')));
    expect(Array.from(combineMasks([a], 'intersection'))).toEqual(Array.from(a));
  });

  it('rejects mismatched lengths and bad vote counts', () => {
    expect(() => combineMasks([a, Uint8Array.from([1])], 'union')).toThrow(/mask 1 has length 1, mask 0 has 5/);
    expect(() => combineMasks([a, b], 'vote')).toThrow(/min_votes, an integer in \[1, 2\]/);
    expect(() => combineMasks([a, b], 'vote', 3)).toThrow(/got 3/);
    expect(() => combineMasks([], 'union')).toThrow(/at least one mask/);
  });
});

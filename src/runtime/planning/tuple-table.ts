// Numbering tuples of small non-negative integers (0, 1, 2, ... in order of first appearance), for
// planning's hot loops: a grid of 10^5 points asks "seen this combination before?" a few times per
// point and node. An open-addressing hash table over typed arrays answers without allocating a
// key (no strings, no boxed numbers, no Map entries), so nothing it keeps is left to the GC.

export class TupleTable {
  /** The tuples, `width` integers each, in the order they were numbered. */
  private data: Int32Array;
  /** Open-addressing slots: 0 for empty, else 1 + the tuple's number. */
  private slots: Int32Array;
  private count = 0;

  constructor(readonly width: number, expected = 16) {
    let capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    this.slots = new Int32Array(capacity);
    this.data = new Int32Array(Math.max(1, width) * Math.max(8, expected));
  }

  /** How many tuples have been numbered. */
  get size(): number {
    return this.count;
  }

  /** The number of `tuple` (its first `width` entries); a new tuple gets the next number. */
  intern(tuple: ArrayLike<number>): number {
    const found = this.find(tuple);
    if (found >= 0) return found;
    return this.add(tuple);
  }

  /** The number of `tuple`, or -1 when it has none. */
  find(tuple: ArrayLike<number>): number {
    const w = this.width;
    const mask = this.slots.length - 1;
    for (let s = hash(tuple, 0, w) & mask; ; s = (s + 1) & mask) {
      const slot = this.slots[s];
      if (slot === 0) return -1;
      const at = (slot - 1) * w;
      let equal = true;
      for (let k = 0; k < w; k++) {
        if (this.data[at + k] !== tuple[k]) {
          equal = false;
          break;
        }
      }
      if (equal) return slot - 1;
    }
  }

  /** Numbers `tuple`, which must not have a number yet. */
  add(tuple: ArrayLike<number>): number {
    const w = this.width;
    for (let k = 0; k < w; k++) {
      const v = tuple[k];
      if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new RangeError(`TupleTable: ${v} is not a small non-negative integer`);
    }
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    if ((this.count + 1) * w > this.data.length) {
      const data = new Int32Array(this.data.length * 2);
      data.set(this.data);
      this.data = data;
    }
    const n = this.count++;
    for (let k = 0; k < w; k++) this.data[n * w + k] = tuple[k];
    this.place(n);
    return n;
  }

  private place(n: number): void {
    const mask = this.slots.length - 1;
    let s = hash(this.data, n * this.width, this.width) & mask;
    while (this.slots[s] !== 0) s = (s + 1) & mask;
    this.slots[s] = n + 1;
  }

  private grow(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    for (let n = 0; n < this.count; n++) this.place(n);
  }
}

/** A 32-bit hash of the `w` integers of `tuple` from `at` (FNV-1a over the words, then a final mix). */
function hash(tuple: ArrayLike<number>, at: number, w: number): number {
  let h = 0x811c9dc5 | 0;
  for (let k = 0; k < w; k++) h = Math.imul(h ^ tuple[at + k], 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
